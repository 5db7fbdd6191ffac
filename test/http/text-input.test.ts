/**
 * U+0000 (NUL) in a request is refused with a 400 naming the field, wherever it is — a JSON
 * field, a key, a path parameter, the query — before any route runs. PostgreSQL's text types
 * cannot hold it: before, it reached the store there and came back a 500 (run this file with
 * CHARBRIDGE_TEST_STORE=postgres to see the same answers on PostgreSQL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { errorOf, startApi, validCharacter, type ApiHarness } from './helpers.js';

const refused = (res: LightMyRequestResponse) => ({ status: res.statusCode, ...errorOf(res) });

let h: ApiHarness;
let key: string;
beforeAll(async () => {
  h = await startApi();
  key = (await h.newKey({ credits: 10 })).key;
});
afterAll(async () => {
  await h.close();
});

describe('a NUL character in a request', () => {
  it('in a JSON field, however deep, or in a key: 400 naming it, nothing charged', async () => {
    const chat = await h.call('POST', '/api/v1/chat', { key, body: { characterId: 'aria', message: 'hi\u0000there', mode: 'sync' } });
    expect(chat.statusCode).toBe(400);
    expect(chat.json()).toEqual({
      error: { code: 'VALIDATION_ERROR', message: '`message` contains a NUL character (U+0000), which text here cannot hold: remove it', details: { field: 'message', in: 'body' } },
    });
    const nested = await h.call('POST', '/api/v1/chat', { key, body: { characterId: 'aria', message: 'hi', persona: { name: 'Ann', description: ['fine', 'x\u0000'] } } });
    expect(refused(nested)).toMatchObject({ status: 400, code: 'VALIDATION_ERROR', details: { field: 'persona.description[1]', in: 'body' } });
    const inKey = await h.call('POST', '/api/v1/characters', { key, body: { ...validCharacter(), extra: { 'a\u0000b': 1 } } });
    expect(refused(inKey)).toMatchObject({ status: 400, details: { field: 'extra.a\u0000b', in: 'body' } });
    const tenant = await h.newKey({ credits: 10 });
    expect((await h.call('POST', '/api/v1/chat', { key: tenant.key, body: { characterId: 'aria', message: 'hi\u0000' } })).statusCode).toBe(400);
    const after = await h.call('POST', '/api/v1/chat', { key: tenant.key, body: { characterId: 'aria', message: 'hi' } });
    expect(after.json()).toMatchObject({ credits: { used: 1, remaining: 9 } });
  });

  it('in a path parameter or the query: 400, not a lookup', async () => {
    const session = await h.call('GET', '/api/v1/conversations/%00', { key });
    expect(refused(session)).toMatchObject({ status: 400, code: 'VALIDATION_ERROR', details: { field: 'id', in: 'params' } });
    const listed = await h.call('GET', '/api/v1/conversations?characterId=ar%00ia', { key });
    expect(refused(listed)).toMatchObject({ status: 400, details: { field: 'characterId', in: 'querystring' } });
  });

  it('anywhere else text is fine: the same requests without it succeed', async () => {
    const chat = await h.call('POST', '/api/v1/chat', { key, body: { characterId: 'aria', message: 'hi there', mode: 'sync' } });
    expect(chat.statusCode).toBe(200);
    expect((await h.call('GET', `/api/v1/conversations/${chat.json().sessionId}`, { key })).statusCode).toBe(200);
  });

  it('a body nested too deep is refused before it is walked; one within MAX_JSON_DEPTH has its NUL found by path', async () => {
    // As deep as the test app's 64 KB body limit allows.
    const deep = `{"characterId":"aria","message":"hi","persona":${'['.repeat(30_000)}"\\u0000"${']'.repeat(30_000)}}`;
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/chat', headers: { 'x-api-key': key, 'content-type': 'application/json' }, payload: deep });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).message).toBe('The JSON body nests deeper than 64 levels');
    const within = `{"characterId":"aria","message":"hi","persona":${'['.repeat(60)}"\\u0000"${']'.repeat(60)}}`;
    const found = await h.app.inject({ method: 'POST', url: '/api/v1/chat', headers: { 'x-api-key': key, 'content-type': 'application/json' }, payload: within });
    expect(found.statusCode).toBe(400);
    expect(String(errorOf(found).details?.field)).toMatch(/^persona(\[0\]){60}$/);
  });
});
