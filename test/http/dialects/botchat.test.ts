/** The bot chat API at /api/v1/chat/{botId}/…, read like its documentation's examples. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoResponder } from '../../fakes/openai.js';
import { validCharacter } from '../helpers.js';
import { readJsonSse, startLive, type Json, type LiveApi } from './helpers.js';

// Every request of a key counts, so the limit leaves room for the requests a test makes before it probes the limit.
const RATE_LIMIT = 30;
let h: LiveApi;
beforeAll(async () => {
  h = await startLive({ RATE_LIMIT_API_KEY_PER_MIN: String(RATE_LIMIT) });
});
afterAll(() => h.close());

const message = (key: string, botId: string, body: Json) => h.json('POST', `/api/v1/chat/${botId}/message`, { key, body });

describe('POST /chat/{botId}/message', () => {
  it('answers {success, data:{response, conversationId, messageId}}, continues, and keeps the metadata', async () => {
    const k = await h.newKey();
    const first = await message(k.key, 'aria', { message: 'What are your business hours?', metadata: { userId: 'user_789', source: 'mobile_app' } });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      success: true,
      data: { response: 'Echo: What are your business hours?', conversationId: expect.stringMatching(/^conv_/), messageId: expect.stringMatching(/^msg_/) },
    });
    const { conversationId } = first.body.data;
    // The bot id may be the character id as well as its slug.
    const second = await message(k.key, 'preset_aria', { message: 'And on weekends?', conversationId, metadata: { plan: 'pro' } });
    expect(second.body.data).toMatchObject({ conversationId, response: 'Echo: And on weekends?' });
    expect(JSON.stringify(h.fake.requests.at(-1)?.body.messages)).toContain('business hours'); // the conversation continued

    const history = await h.json('GET', `/api/v1/chat/aria/conversations/${conversationId}`, { key: k.key });
    expect(history.status).toBe(200);
    const at = new Date(h.clock.now()).toISOString();
    expect(history.body).toEqual({
      success: true,
      data: {
        conversationId,
        messages: [
          { id: expect.stringMatching(/^msg_/), role: 'user', content: 'What are your business hours?', timestamp: at },
          { id: first.body.data.messageId, role: 'assistant', content: 'Echo: What are your business hours?', timestamp: at },
          { id: expect.stringMatching(/^msg_/), role: 'user', content: 'And on weekends?', timestamp: at },
          { id: second.body.data.messageId, role: 'assistant', content: 'Echo: And on weekends?', timestamp: at },
        ],
        metadata: { createdAt: at, messageCount: 4, userId: 'user_789', source: 'mobile_app', plan: 'pro' },
      },
    });
  });
});

describe('metadata bounds', () => {
  it('refuses metadata over 16 KB or deeper than 8 levels, alone or once merged, with a 400 naming it — before the model runs', async () => {
    const k = await h.newKey();
    const calls = () => h.fake.requests.length;
    const refused = (r: { status: number; body: Json }) => {
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ success: false, error: { code: 'VALIDATION_ERROR', message: expect.stringContaining('metadata'), details: { field: 'metadata' } } });
    };
    const nested = (levels: number): Json => (levels <= 1 ? { leaf: true } : { next: nested(levels - 1) });
    const before = calls();
    refused(await message(k.key, 'aria', { message: 'hi', metadata: { blob: 'x'.repeat(17_000) } }));
    refused(await message(k.key, 'aria', { message: 'hi', metadata: nested(9) }));
    expect(calls()).toBe(before);

    const first = await message(k.key, 'aria', { message: 'hi', metadata: { a: 'x'.repeat(10_000), deep: nested(7) } });
    expect(first.status).toBe(200);
    const { conversationId } = first.body.data;
    const calledOnce = calls();
    // Alone it fits; merged with what the conversation has, it would not.
    refused(await message(k.key, 'aria', { message: 'again', conversationId, metadata: { b: 'y'.repeat(10_000) } }));
    expect(calls()).toBe(calledOnce);
    // Replacing a key keeps the merge within bounds.
    expect((await message(k.key, 'aria', { message: 'again', conversationId, metadata: { a: 'y'.repeat(10_000) } })).status).toBe(200);
    const history = await h.json('GET', `/api/v1/chat/aria/conversations/${conversationId}`, { key: k.key });
    expect(history.body.data.metadata).toMatchObject({ a: 'y'.repeat(10_000), deep: nested(7) });
    expect(history.body.data.metadata.b).toBeUndefined();
  });
});

describe('POST /chat/{botId}/stream', () => {
  it('sends one delta event per model delta, then done with conversationId and messageId', async () => {
    const k = await h.newKey();
    const created = await h.json('POST', '/api/v1/characters', { key: k.key, body: validCharacter({ name: 'Customer Support' }) });
    expect(created.body.slug).toBe('customer-support');
    h.fake.respondWith('Once upon a time');
    try {
      const res = await h.send('POST', '/api/v1/chat/customer-support/stream', { key: k.key, body: { message: 'Tell me a story' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const conversationId = res.headers.get('x-conversation-id');
      const events = await readJsonSse(res);
      expect(events).toEqual([
        { type: 'delta', content: 'Once ' },
        { type: 'delta', content: 'upon ' },
        { type: 'delta', content: 'a ' },
        { type: 'delta', content: 'time' },
        { type: 'done', conversationId, messageId: expect.stringMatching(/^msg_/) },
      ]);
      const history = await h.json('GET', `/api/v1/chat/customer-support/conversations/${conversationId}`, { key: k.key });
      expect(history.body.data.messages.at(-1)).toMatchObject({ id: events.at(-1)?.messageId, role: 'assistant', content: 'Once upon a time' });
    } finally {
      h.fake.respondWith(echoResponder);
    }
  });

  it('a client that leaves mid-stream loses nothing: the reply is stored and put on the updates feed', async () => {
    const k = await h.newKey();
    const long = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    h.fake.respondWith(long);
    h.fake.setChunkDelay(5);
    try {
      const abort = new AbortController();
      const res = await fetch(`${h.base}/api/v1/chat/aria/stream`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'tell me everything' }),
        signal: abort.signal,
      });
      const conversationId = res.headers.get('x-conversation-id')!;
      await res.body!.getReader().read(); // the first delta arrived
      abort.abort();
      await h.chat.drain();
      const history = await h.json('GET', `/api/v1/chat/aria/conversations/${conversationId}`, { key: k.key });
      expect(history.body.data.messages.at(-1)).toMatchObject({ role: 'assistant', content: long });
      const feed = await h.json('GET', `/api/v1/updates?sessionId=${conversationId}&wait=10`, { key: k.key });
      expect(feed.body.updates).toEqual([expect.objectContaining({ kind: 'reply', message: expect.objectContaining({ content: long }) })]);
    } finally {
      h.fake.respondWith(echoResponder);
      h.fake.setChunkDelay(0);
    }
  });

  it('a model failure is an error event instead of done', async () => {
    const k = await h.newKey();
    h.fake.failNext(1, { status: 500 });
    const events = await readJsonSse(await h.send('POST', '/api/v1/chat/aria/stream', { key: k.key, body: { message: 'fail' } }));
    expect(events).toEqual([{ type: 'error', error: { code: 'MODEL_ERROR', message: expect.any(String) } }]);
  });
});

describe('GET /chat/{botId}/conversations', () => {
  it('lists the key\'s conversations with that bot: preview, counts, dates, pagination and since', async () => {
    const k = await h.newKey();
    const ids: string[] = [];
    for (const text of ['first', 'second', 'third']) {
      ids.push((await message(k.key, 'aria', { message: text })).body.data.conversationId);
      h.clock.advance(60_000);
    }
    await message(k.key, 'nyx', { message: 'another bot' });
    const page1 = await h.json('GET', '/api/v1/chat/aria/conversations?page=1&limit=2', { key: k.key });
    expect(page1.status).toBe(200);
    expect(page1.body.data.pagination).toEqual({ page: 1, limit: 2, total: 3, hasMore: true });
    expect(page1.body.data.conversations).toEqual([
      { id: ids[2], preview: 'Echo: third', messageCount: 2, createdAt: expect.any(String), updatedAt: expect.any(String) },
      { id: ids[1], preview: 'Echo: second', messageCount: 2, createdAt: expect.any(String), updatedAt: expect.any(String) },
    ]);
    const page2 = await h.json('GET', '/api/v1/chat/aria/conversations?page=2&limit=2', { key: k.key });
    expect(page2.body.data).toMatchObject({ conversations: [{ id: ids[0] }], pagination: { page: 2, limit: 2, total: 3, hasMore: false } });
    const defaults = await h.json('GET', '/api/v1/chat/aria/conversations', { key: k.key });
    expect(defaults.body.data.pagination).toEqual({ page: 1, limit: 20, total: 3, hasMore: false });

    const since = encodeURIComponent(page1.body.data.conversations[1].updatedAt); // after "second": only "third"
    const recent = await h.json('GET', `/api/v1/chat/aria/conversations?since=${since}`, { key: k.key });
    expect(recent.body.data.conversations.map((c: Json) => c.id)).toEqual([ids[2]]);
    expect((await h.json('GET', '/api/v1/chat/aria/conversations?since=yesterday', { key: k.key })).status).toBe(400);
    expect((await h.json('GET', '/api/v1/chat/aria/conversations?limit=101', { key: k.key })).body).toEqual({
      success: false,
      error: { code: 'VALIDATION_ERROR', message: 'limit must be 1-100', details: expect.objectContaining({ field: 'limit' }) },
    });
  });
});

describe('errors', () => {
  it('400 / 401 / 404 / 429 / 502 in the {success:false, error:{code,message}} envelope', async () => {
    const k = await h.newKey();
    const err = (status: number, code: string) => ({ status, body: { success: false, error: expect.objectContaining({ code, message: expect.any(String) }) } });
    const pick = (r: { status: number; body: Json }) => ({ status: r.status, body: r.body });

    expect(pick(await message(k.key, 'aria', {}))).toEqual(err(400, 'VALIDATION_ERROR'));
    expect((await message(k.key, 'aria', {})).body.error.message).toBe('message is required');
    expect(pick(await message(k.key, 'aria', { message: 'hi', metadata: 'not an object' }))).toEqual(err(400, 'VALIDATION_ERROR'));
    expect(pick(await message('', 'aria', { message: 'hi' }))).toEqual(err(401, 'UNAUTHORIZED'));
    expect(pick(await message('cb_wrong', 'aria', { message: 'hi' }))).toEqual(err(401, 'UNAUTHORIZED'));
    expect(pick(await message(k.key, 'no-such-bot', { message: 'hi' }))).toEqual({ status: 404, body: { success: false, error: { code: 'BOT_NOT_FOUND', message: 'Bot not found' } } });
    expect(pick(await message(k.key, 'aria', { message: 'hi', conversationId: 'conv_missing' }))).toEqual(err(404, 'CONVERSATION_NOT_FOUND'));
    expect(pick(await h.json('GET', '/api/v1/chat/aria/conversations/conv_missing', { key: k.key }))).toEqual(err(404, 'CONVERSATION_NOT_FOUND'));
    expect(pick(await h.json('GET', '/api/v1/chat/aria/nothing-here', { key: k.key }))).toEqual(err(404, 'NOT_FOUND'));

    // A conversation exists only under its own bot's URL.
    const conv = (await message(k.key, 'aria', { message: 'hi' })).body.data.conversationId;
    expect(pick(await h.json('GET', `/api/v1/chat/nyx/conversations/${conv}`, { key: k.key }))).toEqual(err(404, 'CONVERSATION_NOT_FOUND'));

    h.fake.failNext(1, { status: 500 });
    expect(pick(await message(k.key, 'aria', { message: 'fail' }))).toEqual(err(502, 'MODEL_ERROR'));

    // x-api-key works as well as Bearer.
    const viaHeader = await h.json('POST', '/api/v1/chat/aria/message', { body: { message: 'hi' }, headers: { 'x-api-key': k.key } });
    expect(viaHeader.status).toBe(200);

    let limited: { status: number; body: Json; headers: Headers } | undefined;
    for (let i = 0; i <= RATE_LIMIT && !limited; i++) {
      const r = await message(k.key, 'aria', { message: `n${i}` });
      if (r.status === 429) limited = r;
    }
    expect(limited && pick(limited)).toEqual(err(429, 'RATE_LIMITED'));
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('tenant isolation across dialects', () => {
  it('a bot chat conversation is the key\'s v1 session, and a 404 for every other key', async () => {
    const a = await h.newKey();
    const b = await h.newKey();
    const conv = (await message(a.key, 'aria', { message: 'private' })).body.data.conversationId;
    const v1 = await h.json('GET', `/api/v1/conversations/${conv}`, { key: a.key });
    expect(v1.status).toBe(200);
    expect(v1.body.messages.map((m: Json) => m.content)).toEqual(['private', 'Echo: private']);
    expect((await h.json('GET', `/api/v1/conversations/${conv}`, { key: b.key })).status).toBe(404);
    expect((await h.json('GET', `/api/v1/chat/aria/conversations/${conv}`, { key: b.key })).status).toBe(404);
    expect((await message(b.key, 'aria', { message: 'hijack', conversationId: conv })).status).toBe(404);
    expect((await h.json('GET', '/api/v1/chat/aria/conversations', { key: b.key })).body.data.pagination.total).toBe(0);
    // A v1 session continues here too: one conversation, whichever API is asked.
    const session = (await h.json('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: 'from v1' } })).body.sessionId;
    expect((await message(a.key, 'aria', { message: 'from the bot chat API', conversationId: session })).body.data.conversationId).toBe(session);
    const secret = (await h.json('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ name: 'Secret Bot' }) })).body;
    expect((await message(b.key, secret.id, { message: 'hi' })).body.error.code).toBe('BOT_NOT_FOUND');
  });
});
