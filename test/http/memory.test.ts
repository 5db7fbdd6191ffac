import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { LongTermMemory } from '../../src/memory/index.js';
import { seen } from '../helpers/harness.js';
import { errorOf, startApi, type ApiHarness } from './helpers.js';

const clock = new ManualClock();
let h: ApiHarness;
let memory: LongTermMemory;
let a: { id: string; key: string };
let b: { id: string; key: string };

beforeAll(async () => {
  h = await startApi({ clock });
  memory = LongTermMemory.attach({
    engine: h.engine, store: h.store, model: h.model, clock, log: h.log,
    config: h.config.memory, contextTokens: h.config.model.contextTokens, instanceId: 'test',
  });
  a = await h.newKey({ name: 'a' });
  b = await h.newKey({ name: 'b' });
});
afterAll(async () => {
  await memory.stop();
  await h.close();
});

async function chat(key: string, message: string, sessionId?: string): Promise<string> {
  clock.advance(1000);
  const res = await h.call('POST', '/api/v1/chat', { key, body: { characterId: 'aria', message, ...(sessionId ? { sessionId } : {}) } });
  expect(res.statusCode).toBe(200);
  await memory.idle();
  return res.json().sessionId as string;
}

describe('/api/v1/conversations/:id/memory', () => {
  it('lists, adds and forgets what the character remembers; the model sees only what is kept', async () => {
    const id = await chat(a.key, 'hello');
    const url = `/api/v1/conversations/${id}/memory`;
    expect((await h.call('GET', url, { key: a.key })).json()).toEqual({ sessionId: id, characterId: 'preset_aria', memories: [], summary: null });
    const added = await h.call('POST', url, { key: a.key, body: { text: 'Allergic to peanuts' } });
    expect(added.statusCode).toBe(201);
    const other = (await h.call('POST', url, { key: a.key, body: { text: 'Plays the cello' } })).json();
    expect((await h.call('GET', url, { key: a.key })).json().memories.map((m: { text: string }) => m.text)).toEqual(['Allergic to peanuts', 'Plays the cello']);
    await chat(a.key, 'what should I cook?', id);
    expect(seen(h.fake)[0]).toContain('- Allergic to peanuts');
    const gone = await h.call('DELETE', `${url}/${added.json().id}`, { key: a.key });
    expect(gone.json()).toEqual({ id: added.json().id, deleted: true });
    expect((await h.call('DELETE', `${url}/${added.json().id}`, { key: a.key })).statusCode).toBe(404);
    expect((await h.call('DELETE', `${url}/not-a-number`, { key: a.key })).statusCode).toBe(404);
    await chat(a.key, 'and now?', id);
    expect(seen(h.fake)[0]).not.toContain('peanuts');
    expect(seen(h.fake)[0]).toContain('Plays the cello');
    expect((await h.call('DELETE', url, { key: a.key })).json()).toEqual({ sessionId: id, cleared: true, forgotten: 1 });
    expect((await h.call('GET', url, { key: a.key })).json().memories).toEqual([]);
    expect(other.id).toBeTypeOf('string');
  });

  it("hides another tenant's memory (404) and validates text", async () => {
    const id = await chat(a.key, 'hi');
    const url = `/api/v1/conversations/${id}/memory`;
    await h.call('POST', url, { key: a.key, body: { text: 'Secret of a' } });
    for (const [method, path] of [['GET', url], ['POST', url], ['DELETE', url], ['DELETE', `${url}/1`]] as const) {
      const res = await h.call(method, path, { key: b.key, ...(method === 'POST' ? { body: { text: 'x' } } : {}) });
      expect(res.statusCode).toBe(404);
      expect(errorOf(res).code).toBe('CONVERSATION_NOT_FOUND');
    }
    const bad = await h.call('POST', url, { key: a.key, body: { text: '' } });
    expect(bad.statusCode).toBe(400);
    expect((await h.call('GET', url, { key: a.key })).json().memories.map((m: { text: string }) => m.text)).toEqual(['Secret of a']);
  });

  it("keeps a card's memoryInstructions", async () => {
    const body = { name: 'Tutor', personality: 'Patient and precise.', speakingStyle: 'Short, clear sentences.', memoryInstructions: 'Exams, deadlines and weak topics.' };
    const created = await h.call('POST', '/api/v1/characters', { key: a.key, body });
    expect(created.statusCode).toBe(201);
    expect(created.json().memoryInstructions).toBe('Exams, deadlines and weak topics.');
    const patched = await h.call('PATCH', `/api/v1/characters/${created.json().id}`, { key: a.key, body: { memoryInstructions: null } });
    expect(patched.json().memoryInstructions).toBeNull();
  });

  it('deleting a conversation deletes its memory; the routes are in the OpenAPI document', async () => {
    const id = await chat(a.key, 'hi');
    await h.call('POST', `/api/v1/conversations/${id}/memory`, { key: a.key, body: { text: 'Something to drop' } });
    expect((await h.call('DELETE', `/api/v1/conversations/${id}`, { key: a.key })).statusCode).toBe(200);
    expect(await h.store.db.selectFrom('memory_facts').selectAll().where('owner_key', '=', `session:${id}`).execute()).toEqual([]);
    const doc = (await h.call('GET', '/openapi.json')).json();
    expect(Object.keys(doc.paths['/api/v1/conversations/{id}/memory']).sort()).toEqual(['delete', 'get', 'post']);
    expect(Object.keys(doc.paths['/api/v1/conversations/{id}/memory/{memoryId}'])).toEqual(['delete']);
  });
});
