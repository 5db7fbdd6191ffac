import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { hashApiKey, openStore } from '../../src/store/index.js';
import { ADMIN_KEY, errorOf, startApi, type ApiHarness } from './helpers.js';

let h: ApiHarness;

beforeAll(async () => {
  h = await startApi({ env: { SSRF_ALLOW_HOSTS: '127.0.0.1' } });
});
afterAll(() => h.close());

describe('authentication', () => {
  it('401 without a key, with a wrong key, and with a disabled key; x-api-key and Bearer both work', async () => {
    const none = await h.call('GET', '/api/v1/characters', { key: null });
    expect(none.statusCode).toBe(401);
    expect(errorOf(none).code).toBe('UNAUTHORIZED');
    expect((await h.call('GET', '/api/v1/characters', { key: 'cb_wrong' })).statusCode).toBe(401);
    expect((await h.call('GET', '/api/v1/characters', { key: `${ADMIN_KEY}x` })).statusCode).toBe(401);
    const k = await h.newKey();
    expect((await h.call('GET', '/api/v1/characters', { key: k.key })).statusCode).toBe(200);
    const bearer = await h.call('GET', '/api/v1/characters', { key: null, headers: { authorization: `Bearer ${k.key}` } });
    expect(bearer.statusCode).toBe(200);
    await h.call('PATCH', `/api/v1/api-keys/${k.id}`, { body: { disabled: true } });
    const disabled = await h.call('GET', '/api/v1/characters', { key: k.key });
    expect(disabled.statusCode).toBe(401);
    expect(errorOf(disabled).message).toMatch(/disabled/);
  });

  it('malformed requests get a 4xx in the one error shape, never a 500', async () => {
    const k = await h.newKey();
    const json = { 'content-type': 'application/json' };
    const cases: Array<[string, string, { body?: unknown; headers?: Record<string, string> }, number]> = [
      ['POST', '/api/v1/chat', { body: '[]', headers: json }, 400],
      ['POST', '/api/v1/chat', { body: 'null', headers: json }, 400],
      ['POST', '/api/v1/chat', { body: '{"characterId":', headers: json }, 400],
      ['POST', '/api/v1/chat', { body: '{"__proto__":{"x":1},"characterId":"aria","message":"hi"}', headers: json }, 400],
      ['POST', '/api/v1/chat', { body: 'hello', headers: { 'content-type': 'text/plain' } }, 400],
      ['POST', '/api/v1/chat', { body: '<a/>', headers: { 'content-type': 'application/xml' } }, 415],
      ['POST', '/api/v1/chat', { body: { characterId: 'aria', message: 'x' }, headers: { 'idempotency-key': 'k'.repeat(256) } }, 400],
      ['GET', `/api/v1/characters/${'x'.repeat(300)}`, {}, 414],
      ['GET', '/api/v1/characters/%E0%A4%A', {}, 400],
      ['GET', '/api/v1/characters?page=99999999999999999999', {}, 400],
      ['GET', '/api/v1/characters?ageMin=18&ageMin=19', {}, 400],
      ['GET', '/api/v1/updates?since=2024-13-45T99:00:00Z', {}, 400],
      ['POST', '/api/v1/conversations/conv_x/clear', { body: '', headers: json }, 400],
      ['PUT', '/api/v1/characters', {}, 404],
    ];
    for (const [method, url, o, status] of cases) {
      const res = await h.call(method as 'GET', url, { key: k.key, ...o });
      expect(res.statusCode, `${method} ${url} ${String(o.body ?? '')}`.slice(0, 120)).toBe(status);
      expect(errorOf(res)).toEqual({ code: expect.any(String), message: expect.any(String), ...(errorOf(res).details ? { details: expect.any(Object) } : {}) });
    }
  });

  it('the OpenAPI document and docs page are public', async () => {
    const doc = await h.call('GET', '/openapi.json', { key: null });
    expect(doc.statusCode).toBe(200);
    const paths = Object.keys(doc.json().paths);
    for (const p of ['/api/v1/chat', '/api/v1/characters', '/api/v1/characters/{id}', '/api/v1/conversations/{id}', '/api/v1/updates', '/api/v1/api-keys']) {
      expect(paths).toContain(p);
    }
    expect(doc.json().paths['/api/v1/characters'].post.requestBody.content['application/json'].schema.properties.personality).toMatchObject({ minLength: 10, maxLength: 2000 });
    const docs = await h.call('GET', '/docs', { key: null });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('Swagger UI');
  });
});

describe('admin: /api/v1/api-keys', () => {
  it('creates a key shown once and stored only as a SHA-256 hash', async () => {
    const res = await h.call('POST', '/api/v1/api-keys', { body: { name: 'demo', credits: 100, webhookUrl: 'http://127.0.0.1:9/hook' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ name: 'demo', credits: 100, webhookUrl: 'http://127.0.0.1:9/hook', creditsUsed: 0, remaining: 100, disabled: false, webhookDisabled: false });
    expect(body.key).toMatch(/^cb_[A-Za-z0-9_-]{43}$/);
    expect(body.webhookSecret).toMatch(/^[A-Za-z0-9_-]{43}$/); // generated because none was given
    const row = await h.store.db.selectFrom('api_keys').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(hashApiKey(body.key));
    expect(JSON.stringify(row)).not.toContain(body.key);
    const list = (await h.call('GET', '/api/v1/api-keys')).json().apiKeys;
    const listed = list.find((k: { id: string }) => k.id === body.id);
    expect(listed).toMatchObject({ name: 'demo', keyPrefix: body.key.slice(0, 10) });
    expect(JSON.stringify(list)).not.toContain(body.key);
    expect(JSON.stringify(list)).not.toContain(body.webhookSecret);
  });

  it('lists keys a page at a time in creation order, with a cursor to the next page', async () => {
    for (let i = 0; i < 7; i++) await h.newKey({ name: `paged ${i}` });
    const all = (await h.store.apiKeys.list()).map((k) => k.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.call('GET', `/api/v1/api-keys?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const body = res.json() as { apiKeys: Array<{ id: string }>; nextCursor: string | null };
      expect(body.apiKeys.length).toBeLessThanOrEqual(3);
      seen.push(...body.apiKeys.map((k) => k.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
    const bad = await h.call('GET', '/api/v1/api-keys?cursor=not-a-cursor');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details).toMatchObject({ field: 'cursor' });
    expect((await h.call('GET', '/api/v1/api-keys?limit=0')).statusCode).toBe(400);
  });

  it('PATCH changes credits, webhook and re-enables a disabled webhook; DELETE revokes', async () => {
    const k = await h.newKey({ credits: 1 });
    await h.store.db.updateTable('api_keys').set({ webhook_disabled: 1, webhook_failures: 5 }).where('id', '=', k.id).execute();
    const patched = await h.call('PATCH', `/api/v1/api-keys/${k.id}`, { body: { credits: null, webhookDisabled: false, name: 'renamed' } });
    expect(patched.json()).toMatchObject({ name: 'renamed', credits: null, remaining: null, webhookDisabled: false });
    expect((await h.store.apiKeys.get(k.id))?.webhookFailures).toBe(0);
    const ssrf = await h.call('PATCH', `/api/v1/api-keys/${k.id}`, { body: { webhookUrl: 'http://10.0.0.1/hook' } });
    expect(errorOf(ssrf)).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'webhookUrl' } });
    expect((await h.call('DELETE', `/api/v1/api-keys/${k.id}`)).json()).toEqual({ id: k.id, deleted: true });
    expect((await h.call('GET', '/api/v1/characters', { key: k.key })).statusCode).toBe(401);
    expect((await h.call('DELETE', `/api/v1/api-keys/${k.id}`)).statusCode).toBe(404);
    expect((await h.call('PATCH', '/api/v1/api-keys/key_nope', { body: { credits: 1 } })).statusCode).toBe(404);
  });

  it('tenant keys get 403; bodies are validated', async () => {
    const k = await h.newKey();
    for (const [method, url] of [['GET', '/api/v1/api-keys'], ['POST', '/api/v1/api-keys'], ['DELETE', `/api/v1/api-keys/${k.id}`]] as const) {
      const res = await h.call(method, url, { key: k.key, ...(method === 'POST' ? { body: { name: 'x' } } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
    }
    for (const [body, field] of [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x', credits: -1 }, 'credits'],
      [{ name: 'x', credits: 1.5 }, 'credits'],
      [{ name: 'x', webhookUrl: 'ftp://x' }, 'webhookUrl'],
      [{ name: 'x', webhookSecret: 'short' }, 'webhookSecret'],
    ] as const) {
      const res = await h.call('POST', '/api/v1/api-keys', { body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(errorOf(res).details?.field).toBe(field);
    }
  });
});

describe('CLI', () => {
  it('keys create prints a working key; list shows it without the secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'charbridge-cli-'));
    const env = { DATABASE_URL: join(dir, 'cli.db'), LOG_LEVEL: 'silent' };
    try {
      const lines: string[] = [];
      expect(await runCli(['keys', 'create', '--name', 'demo', '--credits', '100'], env, (l) => lines.push(l))).toBe(0);
      const key = /Key \(shown once, store it now\): (cb_\S+)/.exec(lines.join('\n'))?.[1];
      expect(key).toBeDefined();
      const listed: string[] = [];
      expect(await runCli(['keys', 'list'], env, (l) => listed.push(l))).toBe(0);
      expect(listed.join('\n')).toContain('demo  100/100 left');
      expect(listed.join('\n')).not.toContain(key);
      const store = await openStore(env.DATABASE_URL);
      try {
        expect((await store.apiKeys.findByKey(key!))?.credits).toBe(100);
      } finally {
        await store.close();
      }
      expect(await runCli(['keys', 'bogus'], env, () => {})).toBe(64);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
