import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { inbound, say } from '../helpers/harness.js';
import { errorOf, startApi, type ApiHarness } from './helpers.js';

const clock = new ManualClock();
let h: ApiHarness;
let a: { id: string; key: string };
let b: { id: string; key: string };

beforeAll(async () => {
  h = await startApi({ clock });
  a = await h.newKey({ name: 'a' });
  b = await h.newKey({ name: 'b' });
});
afterAll(() => h.close());

async function session(key: string, messages: string[], characterId = 'aria'): Promise<string> {
  let sessionId: string | undefined;
  for (const message of messages) {
    clock.advance(1000);
    const res = await h.call('POST', '/api/v1/chat', { key, body: { characterId, message, ...(sessionId ? { sessionId } : {}) } });
    sessionId = res.json().sessionId as string;
  }
  return sessionId!;
}

describe('GET /api/v1/conversations/:id (history)', () => {
  it('pages backwards with before, oldest first within the page', async () => {
    const id = await session(a.key, ['one', 'two', 'three']);
    const page1 = await h.call('GET', `/api/v1/conversations/${id}?limit=4`, { key: a.key });
    expect(page1.statusCode).toBe(200);
    const p1 = page1.json();
    expect(p1).toMatchObject({ sessionId: id, characterId: 'preset_aria', hasMore: true });
    expect(p1.messages.map((m: { role: string; content: string }) => `${m.role}:${m.content}`)).toEqual([
      'user:two',
      'assistant:Echo: two',
      'user:three',
      'assistant:Echo: three',
    ]);
    expect(Object.keys(p1.messages[0]).sort()).toEqual(['content', 'id', 'role', 'timestamp']);
    const page2 = (await h.call('GET', `/api/v1/conversations/${id}?limit=4&before=${p1.messages[0].id}`, { key: a.key })).json();
    expect(page2.messages.map((m: { content: string }) => m.content)).toEqual(['one', 'Echo: one']);
    expect(page2.hasMore).toBe(false);
    const everything = (await h.call('GET', `/api/v1/conversations/${id}`, { key: a.key })).json();
    expect(everything.messages).toHaveLength(6);
    expect(everything.hasMore).toBe(false);
  });

  it('validates limit and before', async () => {
    const id = await session(a.key, ['hello']);
    const other = await session(a.key, ['elsewhere']);
    const foreign = (await h.call('GET', `/api/v1/conversations/${other}`, { key: a.key })).json().messages[0].id;
    for (const [qs, field] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=2.5', 'limit'],
      [`before=${foreign}`, 'before'],
      ['before=msg_nope', 'before'],
    ]) {
      const res = await h.call('GET', `/api/v1/conversations/${id}?${qs}`, { key: a.key });
      expect(res.statusCode, qs).toBe(400);
      expect(errorOf(res).details?.field).toBe(field);
    }
  });

  it("another tenant's conversation is a 404 for every endpoint", async () => {
    const id = await session(a.key, ['private']);
    for (const [method, url] of [
      ['GET', `/api/v1/conversations/${id}`],
      ['DELETE', `/api/v1/conversations/${id}`],
      ['POST', `/api/v1/conversations/${id}/clear`],
      ['GET', `/api/v1/updates?sessionId=${id}`],
    ] as const) {
      const res = await h.call(method, url, { key: b.key });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(errorOf(res).code).toBe('CONVERSATION_NOT_FOUND');
    }
    expect((await h.call('GET', `/api/v1/conversations/${id}`, { key: a.key })).statusCode).toBe(200);
  });
});

describe('GET /api/v1/conversations', () => {
  it("lists only the key's sessions, newest first, with preview, messageCount and updatedAt", async () => {
    const key = await h.newKey();
    const older = await session(key.key, ['first chat']);
    const newer = await session(key.key, ['second chat', 'with two turns']);
    const res = await h.call('GET', '/api/v1/conversations', { key: key.key });
    const body = res.json();
    expect(body.pagination).toEqual({ page: 1, limit: 20, total: 2, totalPages: 1 });
    expect(body.conversations.map((c: { sessionId: string }) => c.sessionId)).toEqual([newer, older]);
    expect(body.conversations[0]).toMatchObject({ characterId: 'preset_aria', platform: 'api', preview: 'Echo: with two turns', messageCount: 4 });
    expect(body.conversations[0].updatedAt > body.conversations[1].updatedAt).toBe(true);
    const page2 = (await h.call('GET', '/api/v1/conversations?limit=1&page=2', { key: key.key })).json();
    expect(page2.conversations.map((c: { sessionId: string }) => c.sessionId)).toEqual([older]);
    expect((await h.call('GET', '/api/v1/conversations?page=0', { key: key.key })).statusCode).toBe(400);
  });

  it('filters by activity time with since and until', async () => {
    const key = await h.newKey();
    const early = await session(key.key, ['early']);
    const cut = new Date(clock.now() + 500).toISOString();
    const late = await session(key.key, ['late']);
    const ids = async (qs: string) => (await h.call('GET', `/api/v1/conversations?${qs}`, { key: key.key })).json().conversations.map((c: { sessionId: string }) => c.sessionId);
    expect(await ids(`since=${cut}`)).toEqual([late]);
    expect(await ids(`until=${cut}`)).toEqual([early]);
    const bad = await h.call('GET', '/api/v1/conversations?since=soon', { key: key.key });
    expect(errorOf(bad)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'since must be an ISO 8601 time' });
  });

  it('the admin sees platform conversations and may read and clear them; tenants may not', async () => {
    const heard = await say(h.engine, inbound({ chatId: '4242', userId: '4242', text: 'hi from telegram' }));
    expect(heard.reply).toBe('Echo: hi from telegram');
    const list = (await h.call('GET', '/api/v1/conversations?platform=telegram')).json();
    const tg = list.conversations.find((c: { preview: string }) => c.preview === 'Echo: hi from telegram');
    expect(tg).toMatchObject({ platform: 'telegram', messageCount: 2 });
    const history = (await h.call('GET', `/api/v1/conversations/${tg.sessionId}`)).json();
    expect(history.messages.map((m: { content: string }) => m.content)).toEqual(['hi from telegram', 'Echo: hi from telegram']);
    expect((await h.call('POST', `/api/v1/conversations/${tg.sessionId}/clear`)).statusCode).toBe(200);
    expect((await h.call('GET', '/api/v1/conversations?platform=telegram', { key: a.key })).statusCode).toBe(403);
    expect((await h.call('GET', `/api/v1/conversations/${tg.sessionId}`, { key: a.key })).statusCode).toBe(404);
    const chatIn = await h.call('POST', '/api/v1/chat', { body: { characterId: 'aria', message: 'x', sessionId: tg.sessionId } });
    expect(chatIn.statusCode).toBe(409);
  });
});

describe('DELETE and clear', () => {
  it('clear hides earlier turns from the model but keeps them in history', async () => {
    const id = await session(a.key, ['my secret word is pineapple']);
    const cleared = await h.call('POST', `/api/v1/conversations/${id}/clear`, { key: a.key });
    expect(cleared.json()).toEqual({ sessionId: id, cleared: true });
    await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: 'what was my word?', sessionId: id } });
    const seen = JSON.stringify(h.fake.requests.at(-1)?.body.messages);
    expect(seen).toContain('what was my word?');
    expect(seen).not.toContain('pineapple');
    const history = (await h.call('GET', `/api/v1/conversations/${id}`, { key: a.key })).json();
    expect(history.messages.map((m: { content: string }) => m.content)[0]).toBe('my secret word is pineapple');
  });

  it('delete removes the conversation, its messages and its feed entries for good', async () => {
    const res = await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: 'bye', mode: 'async' } });
    const id = res.json().sessionId;
    await h.chat.drain();
    expect((await h.call('GET', `/api/v1/updates?sessionId=${id}`, { key: a.key })).json().updates).toHaveLength(1);
    const del = await h.call('DELETE', `/api/v1/conversations/${id}`, { key: a.key });
    expect(del.json()).toEqual({ id, deleted: true });
    expect((await h.call('GET', `/api/v1/conversations/${id}`, { key: a.key })).statusCode).toBe(404);
    expect((await h.store.messages.newest(id, { limit: 10 })).length).toBe(0);
    const feed = (await h.call('GET', '/api/v1/updates', { key: a.key })).json().updates;
    expect(feed.some((u: { sessionId: string }) => u.sessionId === id)).toBe(false);
  });
});
