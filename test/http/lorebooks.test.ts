import { afterEach, describe, expect, it } from 'vitest';
import { errorOf, startApi, type ApiHarness } from './helpers.js';

let h: ApiHarness;
afterEach(async () => h?.close());

/** A SillyTavern world info file as the app exports it (entries keyed by uid). */
const worldInfo = {
  entries: {
    '0': { uid: 0, key: ['comet'], keysecondary: [], comment: 'Comet', content: 'The comet Halvard returns every 76 years.', constant: false, selective: true, order: 100, position: 0, disable: false },
    '1': { uid: 1, key: [], keysecondary: [], comment: 'Always', content: 'Stars are called lanterns here.', constant: true, selective: false, order: 50, position: 1, disable: false },
  },
};

describe('lorebooks over HTTP', () => {
  it('creates from world info, lists, reads, renames, exports and deletes', async () => {
    h = await startApi();
    const a = await h.newKey();
    const created = await h.call('POST', '/api/v1/lorebooks', { key: a.key, body: { name: 'Sky', lorebook: worldInfo } });
    expect(created.statusCode, created.body).toBe(201);
    const book = created.json();
    expect(book).toMatchObject({ name: 'Sky', entries: [{ label: 'Comet', keys: ['comet'] }, { label: 'Always', constant: true }] });

    const list = await h.call('GET', '/api/v1/lorebooks', { key: a.key });
    expect(list.json()).toMatchObject({ lorebooks: [{ id: book.id }], pagination: { total: 1 } });
    const renamed = await h.call('PATCH', `/api/v1/lorebooks/${book.id}`, { key: a.key, body: { name: 'Night sky' } });
    expect(renamed.json()).toMatchObject({ name: 'Night sky' });

    const exported = await h.call('GET', `/api/v1/lorebooks/${book.id}/export`, { key: a.key });
    expect(exported.statusCode).toBe(200);
    const again = await h.call('POST', '/api/v1/lorebooks', { key: a.key, body: { lorebook: exported.json() } });
    expect(again.json().entries).toEqual(book.entries);
    const asCardBook = await h.call('GET', `/api/v1/lorebooks/${book.id}/export?format=character_book`, { key: a.key });
    expect(Array.isArray(asCardBook.json().entries)).toBe(true);

    expect((await h.call('DELETE', `/api/v1/lorebooks/${book.id}`, { key: a.key })).json()).toEqual({ id: book.id, deleted: true });
    expect((await h.call('GET', `/api/v1/lorebooks/${book.id}`, { key: a.key })).statusCode).toBe(404);
  });

  it('refuses a body that is no lorebook with a 400 naming why', async () => {
    h = await startApi();
    const res = await h.call('POST', '/api/v1/lorebooks', { body: { lorebook: { hello: 'world' } } });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).message).toMatch(/world info|character_book/);
  });

  it('keeps another tenant’s lorebook a 404 everywhere', async () => {
    h = await startApi();
    const a = await h.newKey();
    const b = await h.newKey();
    const book = (await h.call('POST', '/api/v1/lorebooks', { key: a.key, body: { lorebook: worldInfo } })).json<{ id: string }>();
    for (const [method, url] of [['GET', `/api/v1/lorebooks/${book.id}`], ['PATCH', `/api/v1/lorebooks/${book.id}`], ['DELETE', `/api/v1/lorebooks/${book.id}`], ['GET', `/api/v1/lorebooks/${book.id}/export`]] as const) {
      const res = await h.call(method, url, { key: b.key, ...(method === 'PATCH' ? { body: { name: 'x' } } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(errorOf(res).code).toBe('LOREBOOK_NOT_FOUND');
    }
    // An id no file could be named after is still only a lorebook that is not there.
    for (const id of ['%F0%9F%98%80', 'a%22b', '%C3%A9t%C3%A9']) {
      const res = await h.call('GET', `/api/v1/lorebooks/${id}/export`, { key: b.key });
      expect(res.statusCode, id).toBe(404);
      expect(errorOf(res).code).toBe('LOREBOOK_NOT_FOUND');
    }
    const session = (await h.call('POST', '/api/v1/chat', { key: b.key, body: { characterId: 'aria', message: 'hi' } })).json<{ sessionId: string }>();
    const attach = await h.call('POST', `/api/v1/conversations/${session.sessionId}/lorebooks`, { key: b.key, body: { lorebookId: book.id } });
    expect(attach.statusCode).toBe(404);
    expect((await h.call('GET', '/api/v1/lorebooks', { key: b.key })).json().lorebooks).toEqual([]);
  });

  it('attached to a conversation, fires in its turns and shows in ?debug=lorebook', async () => {
    h = await startApi();
    const a = await h.newKey();
    const book = (await h.call('POST', '/api/v1/lorebooks', { key: a.key, body: { name: 'Sky', lorebook: worldInfo } })).json<{ id: string }>();
    const first = (await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: 'hello' } })).json<{ sessionId: string }>();
    const attach = await h.call('POST', `/api/v1/conversations/${first.sessionId}/lorebooks`, { key: a.key, body: { lorebookId: book.id } });
    expect(attach.statusCode, attach.body).toBe(200);
    await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', sessionId: first.sessionId, message: 'Is the comet back?' } });
    const system = String(h.fake.requests.at(-1)?.body.messages[0].content);
    expect(system).toMatch(/^The comet Halvard returns every 76 years\.\n\nYou are Aria[\s\S]*\n\nStars are called lanterns here\.$/);

    const debug = await h.call('GET', `/api/v1/conversations/${first.sessionId}?debug=lorebook`, { key: a.key });
    expect(debug.json().lorebook.fired.map((f: { label: string }) => f.label).sort()).toEqual(['Always', 'Comet']);
    expect(debug.json().lorebook.lines.join('\n')).toContain('key "comet"');
    expect((await h.call('GET', `/api/v1/conversations/${first.sessionId}`, { key: a.key })).json().lorebook).toBeUndefined();
    expect((await h.call('GET', `/api/v1/conversations/${first.sessionId}/lorebooks`, { key: a.key })).json().lorebooks).toHaveLength(1);

    const detach = await h.call('DELETE', `/api/v1/conversations/${first.sessionId}/lorebooks/${book.id}`, { key: a.key });
    expect(detach.statusCode).toBe(200);
    await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', sessionId: first.sessionId, message: 'Is the comet back?' } });
    expect(String(h.fake.requests.at(-1)?.body.messages[0].content)).not.toContain('Halvard');
  });

  it('attaches to a character its owner has, never to a preset (but the admin may)', async () => {
    h = await startApi();
    const a = await h.newKey();
    const book = (await h.call('POST', '/api/v1/lorebooks', { key: a.key, body: { lorebook: worldInfo } })).json<{ id: string }>();
    expect((await h.call('POST', '/api/v1/characters/aria/lorebooks', { key: a.key, body: { lorebookId: book.id } })).statusCode).toBe(403);
    const adminBook = (await h.call('POST', '/api/v1/lorebooks', { body: { lorebook: worldInfo } })).json<{ id: string }>();
    expect((await h.call('POST', '/api/v1/characters/aria/lorebooks', { body: { lorebookId: adminBook.id } })).statusCode).toBe(200);
    await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: 'the comet!' } });
    expect(String(h.fake.requests.at(-1)?.body.messages[0].content)).toContain('Halvard');
  });
});

describe('MAX_LOREBOOKS_PER_KEY', () => {
  it('leaves a tenant key exactly its quota however many creates race, with 403 QUOTA_EXCEEDED for the rest; deleting makes room; the admin is not limited', async () => {
    h = await startApi({ env: { MAX_LOREBOOKS_PER_KEY: '2' } });
    const k = await h.newKey();
    const other = await h.newKey();
    const create = (key: string | undefined, name: string) => h.call('POST', '/api/v1/lorebooks', { ...(key === undefined ? {} : { key }), body: { name, lorebook: worldInfo } });
    const raced = await Promise.all(Array.from({ length: 12 }, (_, i) => create(k.key, `Book ${i}`)));
    const made = raced.filter((r) => r.statusCode === 201);
    expect(made).toHaveLength(2);
    for (const refused of raced.filter((r) => r.statusCode !== 201)) {
      expect(refused.statusCode).toBe(403);
      expect(errorOf(refused)).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { limit: 2 } });
    }
    expect((await h.call('GET', '/api/v1/lorebooks', { key: k.key })).json().pagination.total).toBe(2);
    expect((await create(other.key, 'Theirs')).statusCode).toBe(201); // per key
    for (const name of ['A1', 'A2', 'A3']) expect((await create(undefined, name)).statusCode).toBe(201);
    expect((await h.call('DELETE', `/api/v1/lorebooks/${made[0]!.json().id}`, { key: k.key })).statusCode).toBe(200);
    expect((await create(k.key, 'Again')).statusCode).toBe(201);
    expect((await create(k.key, 'Over')).statusCode).toBe(403);
  });
});

describe('lorebooks attached to one conversation or character', () => {
  it('are at most ten each (409 TOO_MANY_LOREBOOKS past that, however many attaches race); attaching one again changes nothing', async () => {
    h = await startApi();
    const k = await h.newKey();
    const session = (await h.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'hi' } })).json<{ sessionId: string }>().sessionId;
    const ids: string[] = [];
    for (let i = 0; i < 14; i++) ids.push((await h.call('POST', '/api/v1/lorebooks', { key: k.key, body: { name: `B${i}`, lorebook: worldInfo } })).json<{ id: string }>().id);
    const url = `/api/v1/conversations/${session}/lorebooks`;
    const raced = await Promise.all(ids.map((lorebookId) => h.call('POST', url, { key: k.key, body: { lorebookId } })));
    expect(raced.filter((r) => r.statusCode === 200)).toHaveLength(10);
    for (const refused of raced.filter((r) => r.statusCode !== 200)) {
      expect(refused.statusCode).toBe(409);
      expect(errorOf(refused)).toEqual({ code: 'TOO_MANY_LOREBOOKS', message: 'This conversation already has 10 lorebooks attached, the most it may have; detach one first' });
    }
    const attached = (await h.call('GET', url, { key: k.key })).json<{ lorebooks: Array<{ id: string }> }>().lorebooks;
    expect(attached).toHaveLength(10);
    expect((await h.call('POST', url, { key: k.key, body: { lorebookId: attached[0]!.id } })).statusCode).toBe(200);
    expect((await h.call('DELETE', `${url}/${attached[0]!.id}`, { key: k.key })).statusCode).toBe(200);
    const spare = ids.find((id) => !attached.some((a) => a.id === id))!;
    expect((await h.call('POST', url, { key: k.key, body: { lorebookId: spare } })).statusCode).toBe(200);
  });
});
