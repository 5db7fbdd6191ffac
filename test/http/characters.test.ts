import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startApi, validCharacter, type ApiHarness } from './helpers.js';

let h: ApiHarness;
let a: { id: string; key: string };
let b: { id: string; key: string };

beforeAll(async () => {
  h = await startApi();
  a = await h.newKey({ name: 'tenant-a' });
  b = await h.newKey({ name: 'tenant-b' });
});
afterAll(() => h.close());

describe('characters', () => {
  it('creates a character owned by the key, with 201 and the whole card', async () => {
    const res = await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ description: 'A friendly AI companion', age: 30 }) });
    expect(res.statusCode).toBe(201);
    const c = res.json();
    expect(c).toMatchObject({ name: 'Alex', slug: 'alex', gender: 'male', age: 30, isPublic: false, isPreset: false, ownership: 'mine', canInitiateConversation: false });
    expect(c.personality).toContain('Curious');
    expect(c).not.toHaveProperty('ownerId');
    const got = await h.call('GET', `/api/v1/characters/${c.id}`, { key: a.key });
    expect(got.json()).toEqual(c);
  });

  it('lists presets, public and own characters with page-numbered pagination', async () => {
    const res = await h.call('GET', '/api/v1/characters', { key: b.key });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.pagination).toEqual({ page: 1, limit: 20, total: body.characters.length, totalPages: 1 });
    expect(body.characters.every((c: { isPreset: boolean }) => c.isPreset)).toBe(true); // a's private Alex is not there
    const first = body.characters[0];
    for (const field of ['id', 'name', 'description', 'gender', 'avatar', 'profilePhotoUrl', 'canInitiateConversation']) expect(first).toHaveProperty(field);
    const paged = (await h.call('GET', '/api/v1/characters?page=2&limit=2', { key: b.key })).json();
    expect(paged.characters).toHaveLength(2);
    expect(paged.pagination).toEqual({ page: 2, limit: 2, total: body.pagination.total, totalPages: Math.ceil(body.pagination.total / 2) });
  });

  it('filters by search, gender, age, occupation and ownership', async () => {
    await h.call('POST', '/api/v1/characters', { key: b.key, body: validCharacter({ name: 'Mia', gender: 'female', description: 'Space nerd', age: 25, occupation: 'Astronaut', isPublic: true }) });
    const q = async (qs: string, key = a.key) => (await h.call('GET', `/api/v1/characters?${qs}`, { key })).json().characters.map((c: { name: string }) => c.name);
    expect(await q('search=mia&gender=female')).toEqual(['Mia']);
    expect(await q('search=SPACE')).toEqual(['Mia']); // description, case-insensitive
    expect(await q('occupation=astronaut')).toEqual(['Mia']);
    expect(await q('occupation=astro')).toEqual(['Aria', 'Mia']); // Aria is an amateur astronomer
    expect(await q('ownership=public')).toEqual(['Mia']);
    expect(await q('ownership=mine')).toEqual(['Alex']);
    expect(await q('ownership=mine', b.key)).toEqual(['Mia']);
    expect((await q('ownership=presets')).length).toBeGreaterThan(0);
    expect(await q('ageMin=26&ageMax=30&ownership=mine')).toEqual(['Alex']);
    expect(await q('search=100%25')).toEqual([]); // % is literal, not a wildcard
  });

  it('refuses out-of-range list parameters instead of clamping', async () => {
    for (const [qs, field] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['page=0', 'page'],
      ['ageMin=17', 'ageMin'],
      ['ageMin=30&ageMax=20', 'ageMax'],
      ['gender=robot', 'gender'],
      ['ownership=theirs', 'ownership'],
    ] as const) {
      const res = await h.call('GET', `/api/v1/characters?${qs}`, { key: a.key });
      expect(res.statusCode, qs).toBe(400);
      expect(errorOf(res).code).toBe('VALIDATION_ERROR');
      expect(errorOf(res).details?.field).toBe(field);
      expect(errorOf(res).message).toContain(field);
    }
  });

  it('PATCH is owner-only and partial with the same validation; presets cannot change', async () => {
    const c = (await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ name: 'Patchy' }) })).json();
    const ok = await h.call('PATCH', `/api/v1/characters/${c.id}`, { key: a.key, body: { description: 'Now with a description', isPublic: true } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ name: 'Patchy', description: 'Now with a description', isPublic: true });
    const bad = await h.call('PATCH', `/api/v1/characters/${c.id}`, { key: a.key, body: { speakingStyle: 'short' } });
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad).message).toBe('speakingStyle must be 10-1000 characters');
    // b can see it now (public) but not change it.
    expect((await h.call('PATCH', `/api/v1/characters/${c.id}`, { key: b.key, body: { name: 'Hijacked' } })).statusCode).toBe(403);
    expect((await h.call('DELETE', `/api/v1/characters/${c.id}`, { key: b.key })).statusCode).toBe(403);
    const preset = await h.call('PATCH', '/api/v1/characters/preset_aria', { key: a.key, body: { name: 'Not Aria' } });
    expect(preset.statusCode).toBe(403);
    expect((await h.call('DELETE', '/api/v1/characters/aria')).statusCode).toBe(403); // not even the admin
  });

  it("another tenant's private character is a 404 on every verb", async () => {
    const c = (await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ name: 'Secret' }) })).json();
    for (const [method, body] of [['GET'], ['PATCH', { name: 'x' }], ['DELETE']] as const) {
      const res = await h.call(method, `/api/v1/characters/${c.id}`, { key: b.key, ...(body ? { body } : {}) });
      expect(res.statusCode, method).toBe(404);
      expect(errorOf(res).code).toBe('CHARACTER_NOT_FOUND');
    }
    // The admin sees it and owns admin-created characters as 'admin'.
    expect((await h.call('GET', `/api/v1/characters/${c.id}`)).json().ownership).toBe('other');
    const mine = (await h.call('POST', '/api/v1/characters', { body: validCharacter({ name: 'Admin Made' }) })).json();
    expect(mine.ownership).toBe('mine');
    expect((await h.call('GET', `/api/v1/characters/${mine.id}`, { key: b.key })).statusCode).toBe(404);
  });

  it('concurrent creates with one name all succeed with distinct slugs', async () => {
    const res = await Promise.all(Array.from({ length: 5 }, () => h.call('POST', '/api/v1/characters', { key: b.key, body: validCharacter({ name: 'Twin' }) })));
    expect(res.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(res.map((r) => r.json().slug))).toEqual(new Set(['twin', 'twin-2', 'twin-3', 'twin-4', 'twin-5']));
  });

  it('DELETE removes an own character', async () => {
    const c = (await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ name: 'Short Lived' }) })).json();
    const res = await h.call('DELETE', `/api/v1/characters/${c.id}`, { key: a.key });
    expect(res.json()).toEqual({ id: c.id, deleted: true });
    expect((await h.call('GET', `/api/v1/characters/${c.id}`, { key: a.key })).statusCode).toBe(404);
  });

  it('names the field for unknown fields, wrong types and missing fields', async () => {
    const unknown = await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ favouriteColour: 'blue' }) });
    expect(errorOf(unknown)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'Unknown field: favouriteColour', details: { field: 'favouriteColour' } });
    const wrongType = await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ canInitiateConversation: 'yes' }) });
    expect(errorOf(wrongType).details?.field).toBe('canInitiateConversation');
    const missing = await h.call('POST', '/api/v1/characters', { key: a.key, body: { name: 'Only a name' } });
    expect(errorOf(missing)).toMatchObject({ message: 'personality is required', details: { field: 'personality' } });
    const notJson = await h.call('POST', '/api/v1/characters', { key: a.key, body: '{oops', headers: { 'content-type': 'application/json' } });
    expect(notJson.statusCode).toBe(400);
    expect(errorOf(notJson).code).toBe('VALIDATION_ERROR');
  });

  it('lets a tenant name only allowed models (MODEL_ALLOWLIST, by default the configured one); the admin any', async () => {
    const k = await h.newKey();
    const refused = await h.call('POST', '/api/v1/characters', { key: k.key, body: validCharacter({ model: 'o1-pro' }) });
    expect(refused.statusCode).toBe(400);
    expect(errorOf(refused)).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'model' } });
    expect(errorOf(refused).message).toMatch(/^model must be one of gpt-4o-mini/);
    const sneaky = await h.call('POST', '/api/v1/characters', { key: k.key, body: validCharacter({ name: 'Sneaky', model: 'gpt-4o-mini', fallbackModels: ['o1-pro'] }) });
    expect(sneaky.statusCode).toBe(400);
    expect(errorOf(sneaky)).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'fallbackModels' } });
    const ok = await h.call('POST', '/api/v1/characters', { key: k.key, body: validCharacter({ name: 'Frugal', model: 'gpt-4o-mini' }) });
    expect(ok.statusCode).toBe(201);
    const id = ok.json<{ id: string }>().id;
    expect((await h.call('PATCH', `/api/v1/characters/${id}`, { key: k.key, body: { model: 'o1-pro' } })).statusCode).toBe(400);
    expect((await h.call('POST', '/api/v1/characters', { body: validCharacter({ name: 'Lavish', model: 'o1-pro' }) })).statusCode).toBe(201);
  });
});

describe('MAX_CHARACTERS_PER_KEY', () => {
  it('refuses a tenant key one character more than its quota with 403 QUOTA_EXCEEDED; deleting makes room; the admin is not limited', async () => {
    const q = await startApi({ env: { MAX_CHARACTERS_PER_KEY: '2' } });
    try {
      const k = await q.newKey();
      const other = await q.newKey();
      const create = (key: string | undefined, name: string) => q.call('POST', '/api/v1/characters', { ...(key === undefined ? {} : { key }), body: validCharacter({ name }) });
      expect((await create(k.key, 'One')).statusCode).toBe(201);
      const two = await create(k.key, 'Two');
      expect(two.statusCode).toBe(201);
      const three = await create(k.key, 'Three');
      expect(three.statusCode).toBe(403);
      expect(errorOf(three)).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { limit: 2 } });
      expect((await create(other.key, 'Theirs')).statusCode).toBe(201); // per key
      for (const name of ['A1', 'A2', 'A3']) expect((await create(undefined, name)).statusCode).toBe(201);
      expect((await q.call('DELETE', `/api/v1/characters/${two.json().id}`, { key: k.key })).statusCode).toBe(200);
      expect((await create(k.key, 'Three')).statusCode).toBe(201);
    } finally {
      await q.close();
    }
  });

  it('leaves a key exactly its quota however many creates race (counted under the per-owner lock with the insert)', async () => {
    const q = await startApi({ env: { MAX_CHARACTERS_PER_KEY: '2' } });
    try {
      const k = await q.newKey();
      const raced = await Promise.all(Array.from({ length: 12 }, (_, i) => q.call('POST', '/api/v1/characters', { key: k.key, body: validCharacter({ name: `Racer ${i}` }) })));
      expect(raced.filter((r) => r.statusCode === 201)).toHaveLength(2);
      expect(raced.filter((r) => r.statusCode === 403).map((r) => errorOf(r).code)).toEqual(Array(10).fill('QUOTA_EXCEEDED'));
      expect(await q.store.characters.countOwned(k.id)).toBe(2);
    } finally {
      await q.close();
    }
  });
});
