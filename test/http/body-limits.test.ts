/** Oversized and trickled request bodies over real HTTP: a readable 413, and a deadline for the rest. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLive, type LiveApi } from './dialects/helpers.js';

let h: LiveApi;
beforeAll(async () => {
  h = await startLive({ MAX_BODY_BYTES: '65536', REQUEST_TIMEOUT_MS: '1500' });
});
afterAll(() => h.close());

/**
 * A raw request writing `body` as a real upload does, a piece at a time; resolves with what came
 * back, or how the connection failed (EPIPE, ECONNRESET) when the server hung up mid-upload.
 */
function post(path: string, body: Buffer, headers: Record<string, string>): Promise<{ status?: number; text?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(`${h.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    const piece = 32 * 1024;
    const write = (at: number) => {
      if (req.destroyed) return;
      if (at >= body.length) return void req.end();
      req.write(body.subarray(at, at + piece), () => setTimeout(() => write(at + piece), 1));
    };
    write(0);
  });
}

describe('idle connections', () => {
  it('keeps an idle keep-alive connection open as long as fastify does by default (72 s), not Node’s 5 s', () => {
    // A webhook sender or proxy that reuses a connection just as the server closes it gets
    // "socket hang up"; the longer the server keeps it, the rarer (and the proxy's shorter timeout wins).
    expect(h.app.server.keepAliveTimeout).toBe(72_000);
    expect(h.app.server.requestTimeout).toBe(1500);
  });
});

describe('request bodies', () => {
  it('answers a body over MAX_BODY_BYTES with a 413 the client can read, in each API\'s envelope', async () => {
    const k = await h.newKey();
    const big = Buffer.from(JSON.stringify({ characterId: 'aria', message: 'x'.repeat(1_000_000) }));
    const v1 = await post('/api/v1/chat', big, { 'x-api-key': k.key });
    expect(v1.error).toBeUndefined();
    expect(v1.status).toBe(413);
    expect(JSON.parse(v1.text!)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    const dialect = await post('/api/chat', big, { authorization: `Bearer ${k.key}` });
    expect(dialect.status).toBe(413);
    expect(JSON.parse(dialect.text!)).toMatchObject({ success: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    // fetch (undici) fails the whole request when the server hangs up while it is still writing.
    const viaFetch = await fetch(`${h.base}/api/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': k.key }, body: Buffer.from(JSON.stringify({ characterId: 'aria', message: 'y'.repeat(8_000_000) })) });
    expect(viaFetch.status).toBe(413);
    expect(((await viaFetch.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('closes a request whose body does not arrive within REQUEST_TIMEOUT_MS, also after answering 401', async () => {
    const closed = await new Promise<{ status?: number }>((resolve) => {
      let status: number | undefined;
      const req = request(`${h.base}/api/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000' } }, (res) => {
        status = res.statusCode;
        res.resume();
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve({ status }));
      req.write('{'); // and nothing more: a body trickling far slower than any client sends
    });
    // The 401 may come first or not at all; either way the server gave up on the body and hung up.
    expect([undefined, 401, 408]).toContain(closed.status);
  });
});

describe('JSON nested deeper than MAX_JSON_DEPTH', () => {
  it('is refused with 400 before it is parsed, in each API’s envelope; brackets inside strings and fastify’s own refusals are as before', async () => {
    const key = (await h.json('POST', '/api/v1/api-keys', { key: 'admin-key-for-tests-0123456789', body: { name: 'deep' } })).body.key as string;
    const deep = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
    for (const [path, envelope] of [['/api/v1/chat', (b: any) => b.error], ['/api/chat', (b: any) => b.success === false && b.error]] as const) {
      const res = await fetch(`${h.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: deep });
      expect(res.status).toBe(400);
      expect(envelope(await res.json())).toMatchObject({ code: 'VALIDATION_ERROR', message: 'The JSON body nests deeper than 64 levels' });
    }
    const inString = await h.json('POST', '/api/v1/chat', { key, body: { characterId: 'aria', message: `brackets [[[[{{{{ ${'['.repeat(500)} and a quote \\" too` } });
    expect(inString.status).toBe(200);
    const sixtyFour = `${'['.repeat(63)}{"a":1}${']'.repeat(63)}`;
    const atLimit = await fetch(`${h.base}/api/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: sixtyFour });
    expect(((await atLimit.json()) as any).error.message).toBe('Request body must be a JSON object'); // parsed, then refused by the schema
    const proto = await fetch(`${h.base}/api/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: '{"__proto__":{"x":1},"characterId":"aria","message":"hi"}' });
    expect(proto.status).toBe(400);
  });
});
