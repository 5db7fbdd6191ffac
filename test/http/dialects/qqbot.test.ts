/** The user/group chat API of QQ-bot plugins at /api/chat and /api/conversations, read like its documentation's examples. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGroupChatKey } from '../../../src/http/dialects/index.js';
import { echoResponder } from '../../fakes/openai.js';
import { ADMIN_KEY } from '../helpers.js';
import { fakeUsage, readJsonSse, startLive, type Json, type LiveApi } from './helpers.js';

const RATE_LIMIT = 12;
let h: LiveApi;
beforeAll(async () => {
  h = await startLive({ RATE_LIMIT_API_KEY_PER_MIN: String(RATE_LIMIT) });
});
afterAll(() => h.close());

const chat = (key: string, body: Json) => h.json('POST', '/api/chat', { key, body });
/** The user/assistant lines the model saw in its latest request. */
const seen = () => (h.fake.requests.at(-1)?.body.messages as Json[]).filter((m) => m.role !== 'system').map((m) => m.content as string);
const systemPrompt = () => String(h.fake.requests.at(-1)?.body.messages[0].content);

describe('POST /api/chat', () => {
  it("answers the documentation's example with response, conversationId and usage; a group is one shared conversation", async () => {
    const k = await h.newKey();
    const res = await chat(k.key, { message: 'Hello, how are you?', userId: '123456789', groupId: '987654321', preset: 'default' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      data: { response: 'Echo: 123456789: Hello, how are you?', conversationId: expect.stringMatching(/^conv_/), usage: fakeUsage(h, 'Echo: 123456789: Hello, how are you?') },
    });
    // In a group the model sees who speaks, as on the platforms; the default preset is Aria.
    expect(systemPrompt()).toContain('You are Aria');
    const other = await chat(k.key, { message: 'Hi all', userId: '555', groupId: '987654321' });
    expect(other.body.data.conversationId).toBe(res.body.data.conversationId);
    expect(seen()).toEqual(['123456789: Hello, how are you?', 'Echo: 123456789: Hello, how are you?', '555: Hi all']);
  });

  it('without groupId: one conversation per user (numeric ids are the same user as their string)', async () => {
    const k = await h.newKey();
    const a = (await chat(k.key, { message: 'one', userId: '42' })).body.data;
    const b = (await chat(k.key, { message: 'two', userId: 42 })).body.data;
    const c = (await chat(k.key, { message: 'three', userId: '43' })).body.data;
    expect(b.conversationId).toBe(a.conversationId);
    expect(c.conversationId).not.toBe(a.conversationId);
    expect(b.response).toBe('Echo: two'); // a DM has no speaker prefixes
    expect(seen()).toEqual(['three']);
    expect((await chat(k.key, { message: 'no group', userId: '42', groupId: '' })).body.data.conversationId).toBe(a.conversationId);
  });

  it("a group's per-user scope policy gives each user their own conversation there", async () => {
    const k = await h.newKey();
    await h.store.settings.setChat(apiGroupChatKey(k.id, 'g-per-user'), { scope: 'per-user' });
    const a = (await chat(k.key, { message: 'mine', userId: 'u1', groupId: 'g-per-user' })).body.data.conversationId;
    const b = (await chat(k.key, { message: 'mine too', userId: 'u2', groupId: 'g-per-user' })).body.data.conversationId;
    expect(a).not.toBe(b);
    expect((await chat(k.key, { message: 'again', userId: 'u1', groupId: 'g-per-user' })).body.data.conversationId).toBe(a);
    const listed = await h.json('GET', '/api/conversations?groupId=g-per-user', { key: k.key });
    expect(listed.body.data.conversations.map((c: Json) => [c.id, c.userId]).sort()).toEqual([[a, 'u1'], [b, 'u2']].sort());
  });

  it("preset names the character and switches the conversation's; default is the key's default character", async () => {
    const k = await h.newKey();
    const first = (await chat(k.key, { message: 'hi', userId: 'p1' })).body.data.conversationId;
    expect(systemPrompt()).toContain('You are Aria');
    expect((await chat(k.key, { message: 'hi nyx', userId: 'p1', preset: 'nyx' })).body.data.conversationId).toBe(first);
    expect(systemPrompt()).toContain('You are Nyx');
    expect(seen()).toContain('hi'); // same conversation: the history came along
    expect((await h.json('GET', `/api/v1/conversations/${first}`, { key: k.key })).body.characterId).toBe('preset_nyx');
    const patched = await h.json('PATCH', `/api/v1/api-keys/${k.id}`, { key: null, headers: { 'x-api-key': ADMIN_KEY }, body: { defaultCharacterId: 'sunny' } });
    expect(patched.body.defaultCharacterId).toBe('preset_sunny');
    const bad = await h.json('PATCH', `/api/v1/api-keys/${k.id}`, { key: null, headers: { 'x-api-key': ADMIN_KEY }, body: { defaultCharacterId: 'no-such-character' } });
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'defaultCharacterId' } });
    await chat(k.key, { message: 'back to default', userId: 'p1', preset: 'default' });
    expect(systemPrompt()).toContain('You are Sunny');
  });
});

describe('POST /api/chat/stream', () => {
  it('sends start with conversationId, content per delta, then end with usage', async () => {
    const k = await h.newKey();
    h.fake.respondWith("I'm doing great!");
    try {
      const res = await h.send('POST', '/api/chat/stream', { key: k.key, body: { message: 'Hello, how are you?', userId: '123456789', preset: 'default' } });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = await readJsonSse(res);
      expect(events).toEqual([
        { type: 'start', conversationId: expect.stringMatching(/^conv_/) },
        { type: 'content', text: "I'm " },
        { type: 'content', text: 'doing ' },
        { type: 'content', text: 'great!' },
        { type: 'end', usage: fakeUsage(h, "I'm doing great!") },
      ]);
      // The stream continues the same conversation as /api/chat.
      expect((await chat(k.key, { message: 'and now?', userId: '123456789' })).body.data.conversationId).toBe(events[0]?.conversationId);
    } finally {
      h.fake.respondWith(echoResponder);
    }
  });

  it('an unreachable model is an error event with CHANNEL_UNAVAILABLE', async () => {
    const k = await h.newKey();
    h.fake.breakStreamAfter(0);
    try {
      const events = await readJsonSse(await h.send('POST', '/api/chat/stream', { key: k.key, body: { message: 'x', userId: 's2' } }));
      expect(events).toEqual([{ type: 'start', conversationId: expect.any(String) }, { type: 'error', error: { code: 'CHANNEL_UNAVAILABLE', message: expect.any(String) } }]);
    } finally {
      h.fake.breakStreamAfter(null);
    }
  });
});

describe('/api/conversations', () => {
  it('lists with userId, groupId, messageCount, lastMessage and epoch-ms updatedAt; filters, limit and offset', async () => {
    const k = await h.newKey();
    const ids: string[] = [];
    for (const [userId, groupId] of [['u1', undefined], ['u2', undefined], ['u1', 'g1']] as const) {
      ids.push((await chat(k.key, { message: `from ${userId}`, userId, ...(groupId ? { groupId } : {}) })).body.data.conversationId);
      h.clock.advance(1000);
    }
    const all = await h.json('GET', '/api/conversations', { key: k.key });
    expect(all.status).toBe(200);
    expect(all.body.data.total).toBe(3);
    expect(all.body.data.conversations[0]).toEqual({ id: ids[2], userId: null, groupId: 'g1', messageCount: 2, lastMessage: 'Echo: u1: from u1', updatedAt: h.clock.now() - 1000 });
    const byUser = await h.json('GET', '/api/conversations?userId=u1', { key: k.key });
    expect(byUser.body.data).toEqual({ conversations: [expect.objectContaining({ id: ids[0], userId: 'u1', groupId: null, lastMessage: 'Echo: from u1' })], total: 1 });
    expect((await h.json('GET', '/api/conversations?groupId=g1', { key: k.key })).body.data.conversations.map((c: Json) => c.id)).toEqual([ids[2]]);
    const paged = await h.json('GET', '/api/conversations?limit=1&offset=1', { key: k.key });
    expect(paged.body.data).toEqual({ conversations: [expect.objectContaining({ id: ids[1] })], total: 3 });
  });

  it('GET one with epoch-ms timestamps, clear keeps history but not context, DELETE removes it', async () => {
    const k = await h.newKey();
    const id = (await chat(k.key, { message: 'Hello', userId: 'c1' })).body.data.conversationId;
    const got = await h.json('GET', `/api/conversations/${id}`, { key: k.key });
    expect(got.body).toEqual({
      success: true,
      data: { id, messages: [{ role: 'user', content: 'Hello', timestamp: h.clock.now() }, { role: 'assistant', content: 'Echo: Hello', timestamp: h.clock.now() }] },
    });
    expect((await h.json('POST', `/api/conversations/${id}/clear`, { key: k.key })).body).toEqual({ success: true, message: 'Context cleared' });
    await chat(k.key, { message: 'Fresh start', userId: 'c1' });
    expect(seen()).toEqual(['Fresh start']);
    expect((await h.json('GET', `/api/conversations/${id}`, { key: k.key })).body.data.messages).toHaveLength(4);
    expect((await h.json('DELETE', `/api/conversations/${id}`, { key: k.key })).body).toEqual({ success: true });
    expect((await h.json('GET', `/api/conversations/${id}`, { key: k.key })).body.error.code).toBe('CONVERSATION_NOT_FOUND');
    // The user simply gets a new conversation next time.
    const next = (await chat(k.key, { message: 'Hello again', userId: 'c1' })).body.data.conversationId;
    expect(next).not.toBe(id);
  });
});

describe('errors', () => {
  it('VALIDATION_ERROR, UNAUTHORIZED, CONVERSATION_NOT_FOUND, PRESET_NOT_FOUND, MODEL_ERROR, CHANNEL_UNAVAILABLE, RATE_LIMITED', async () => {
    const k = await h.newKey();
    const err = (status: number, code: string) => ({ status, body: { success: false, error: expect.objectContaining({ code, message: expect.any(String) }) } });
    const pick = (r: { status: number; body: Json }) => ({ status: r.status, body: r.body });
    expect(pick(await chat(k.key, { message: 'hi' }))).toEqual(err(400, 'VALIDATION_ERROR'));
    expect((await chat(k.key, { message: 'hi' })).body.error.message).toBe('userId is required');
    expect((await chat(k.key, { message: '   ', userId: '1' })).body.error.message).toBe('message is required');
    expect((await chat(k.key, { message: 'hi', userId: ' ' })).body.error.message).toBe('userId must not be empty');
    expect((await chat(k.key, { message: 'hi', userId: { id: 1 } })).body.error.message).toBe('userId must be a string');
    expect(pick(await chat('', { message: 'hi', userId: '1' }))).toEqual(err(401, 'UNAUTHORIZED'));
    expect(pick(await h.json('GET', '/api/conversations', { key: 'cb_wrong' }))).toEqual(err(401, 'UNAUTHORIZED'));
    expect(pick(await h.json('GET', '/api/conversations/conv_nope', { key: k.key }))).toEqual(err(404, 'CONVERSATION_NOT_FOUND'));
    expect(pick(await h.json('DELETE', '/api/conversations/conv_nope', { key: k.key }))).toEqual(err(404, 'CONVERSATION_NOT_FOUND'));
    expect(pick(await h.json('POST', '/api/conversations/conv_nope/clear', { key: k.key }))).toEqual(err(404, 'CONVERSATION_NOT_FOUND'));
    expect(pick(await chat(k.key, { message: 'hi', userId: '1', preset: 'nobody' }))).toEqual({ status: 404, body: { success: false, error: { code: 'PRESET_NOT_FOUND', message: 'Preset not found' } } });
    h.fake.failNext(1, { status: 500 });
    expect(pick(await chat(k.key, { message: 'hi', userId: '1' }))).toEqual(err(502, 'MODEL_ERROR'));
    h.fake.breakStreamAfter(0);
    try {
      expect(pick(await chat(k.key, { message: 'hi', userId: '1' }))).toEqual(err(503, 'CHANNEL_UNAVAILABLE'));
    } finally {
      h.fake.breakStreamAfter(null);
    }
    let limited: { status: number; body: Json; headers: Headers } | undefined;
    for (let i = 0; i <= RATE_LIMIT && !limited; i++) {
      const r = await chat(k.key, { message: `n${i}`, userId: '1' });
      if (r.status === 429) limited = r;
    }
    expect(limited && pick(limited)).toEqual(err(429, 'RATE_LIMITED'));
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('a request refused for credits', () => {
  it('402 INSUFFICIENT_CREDITS creates no conversation (user or group, plain or streamed) and spends nothing', async () => {
    const k = await h.newKey({ credits: 0 });
    const calls = h.fake.requests.length;
    for (const [path, body] of [
      ['/api/chat', { message: 'hi', userId: 'u-broke' }],
      ['/api/chat', { message: 'hi', userId: 'u-broke', groupId: 'g-broke' }],
      ['/api/chat/stream', { message: 'hi', userId: 'u-broke-2' }],
    ] as const) {
      const res = await h.json('POST', path, { key: k.key, body });
      expect(res.status, path).toBe(402);
      expect(res.body).toEqual({ success: false, error: { code: 'INSUFFICIENT_CREDITS', message: expect.any(String) } });
    }
    expect((await h.json('GET', '/api/conversations', { key: k.key })).body.data).toEqual({ conversations: [], total: 0 });
    expect((await h.json('GET', '/api/v1/conversations', { key: k.key })).body.conversations).toEqual([]);
    expect(h.fake.requests.length).toBe(calls);
    expect((await h.store.apiKeys.get(k.id))?.creditsUsed).toBe(0);
  });
});

describe('tenant isolation across dialects', () => {
  it('the same userId under two keys is two conversations; each is visible through v1 to its own key only', async () => {
    const a = await h.newKey();
    const b = await h.newKey();
    const convA = (await chat(a.key, { message: 'secret a', userId: 'same-user', groupId: 'same-group' })).body.data.conversationId;
    const convB = (await chat(b.key, { message: 'secret b', userId: 'same-user', groupId: 'same-group' })).body.data.conversationId;
    expect(convA).not.toBe(convB);
    expect(seen()).toEqual(['same-user: secret b']); // b's model call saw nothing of a's
    const v1 = await h.json('GET', `/api/v1/conversations/${convA}`, { key: a.key });
    expect(v1.body.messages.map((m: Json) => m.content)).toEqual(['secret a', 'Echo: same-user: secret a']);
    for (const [method, path] of [
      ['GET', `/api/v1/conversations/${convA}`],
      ['GET', `/api/conversations/${convA}`],
      ['DELETE', `/api/conversations/${convA}`],
      ['POST', `/api/conversations/${convA}/clear`],
    ] as const) {
      expect((await h.json(method, path, { key: b.key })).status, `${method} ${path}`).toBe(404);
    }
    expect((await h.json('GET', '/api/conversations', { key: b.key })).body.data.conversations.map((c: Json) => c.id)).toEqual([convB]);
  });
});
