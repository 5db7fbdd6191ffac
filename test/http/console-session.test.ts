import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { ADMIN_KEY, errorOf, servicesFor, startApi, validCharacter, type ApiHarness } from './helpers.js';

const clock = new ManualClock();
let h: ApiHarness;
let tenant: { id: string; key: string };
let addressSeq = 0;

interface Session {
  cookie: string;
  csrf: string;
  res: LightMyRequestResponse;
}

/** Sign in from a fresh client address (sign-ins are rate limited per address). */
async function signIn(key: string, opts: { headers?: Record<string, string>; app?: ApiHarness['app'] } = {}): Promise<Session> {
  const res = await (opts.app ?? h.app).inject({
    method: 'POST',
    url: '/console/session',
    payload: { key },
    headers: opts.headers ?? {},
    remoteAddress: `10.0.${Math.floor(++addressSeq / 250)}.${addressSeq % 250}`,
  });
  const set = res.cookies.find((c) => c.name === 'cb_console');
  return { cookie: set ? `cb_console=${set.value}` : '', csrf: res.statusCode === 200 ? res.json().csrfToken : '', res };
}

/** A request the way the console's pages make it: the cookie, and the CSRF token unless told otherwise. */
function asConsole(s: Session, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, opts: { body?: unknown; csrf?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { cookie: s.cookie, ...(opts.headers ?? {}) };
  const csrf = opts.csrf === undefined ? s.csrf : opts.csrf;
  if (csrf !== null) headers['x-csrf-token'] = csrf;
  return h.app.inject({ method, url, headers, ...(opts.body !== undefined ? { payload: opts.body as object } : {}) });
}

beforeAll(async () => {
  h = await startApi({ clock, env: { CONSOLE_SESSION_HOURS: '2' } });
  tenant = await h.newKey({ name: 'acme' });
});
afterAll(() => h.close());

describe('POST /console/session', () => {
  it('refuses a wrong key without setting a cookie, and takes the right one', async () => {
    const wrong = await signIn('cb_not-a-key');
    expect(wrong.res.statusCode).toBe(401);
    expect(errorOf(wrong.res).code).toBe('UNAUTHORIZED');
    expect(wrong.res.headers['set-cookie']).toBeUndefined();

    const s = await signIn(tenant.key);
    expect(s.res.statusCode).toBe(200);
    expect(s.res.json()).toMatchObject({ caller: { keyId: tenant.id, isAdmin: false, name: 'acme' }, expiresAt: new Date(clock.now() + 2 * 3_600_000).toISOString() });
    const cookie = s.res.cookies.find((c) => c.name === 'cb_console')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 7200 });
    expect(cookie.secure).toBeUndefined();
    const me = await asConsole(s, 'GET', '/console/session', { csrf: null });
    expect(me.json()).toMatchObject({ caller: { keyId: tenant.id }, csrfToken: s.csrf });
  });

  it('stores only a hash of the session token', async () => {
    const s = await signIn(tenant.key);
    const token = s.cookie.split('=')[1]!;
    const rows = await h.store.db.selectFrom('console_sessions').select(['token_hash', 'key_id']).execute();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.some((r) => r.token_hash.includes(token) || token.includes(r.token_hash))).toBe(false);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true);
  });

  it('marks the cookie Secure only for HTTPS, believing X-Forwarded-Proto only behind a trusted proxy', async () => {
    const untrusted = await signIn(tenant.key, { headers: { 'x-forwarded-proto': 'https' } });
    expect(untrusted.res.cookies[0]?.secure).toBeUndefined();

    const config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', ADMIN_API_KEY: ADMIN_KEY, TRUST_PROXY: '10.0.0.0/8' });
    const behindProxy = await buildApp({ config, log: h.log, services: servicesFor(h, config) });
    try {
      const trusted = await signIn(tenant.key, { app: behindProxy, headers: { 'x-forwarded-proto': 'https' } });
      expect(trusted.res.cookies[0]?.secure).toBe(true);
    } finally {
      await behindProxy.close();
    }
  });

  it('refuses form posts and cross-site sign-ins, and limits attempts per address', async () => {
    const form = await h.app.inject({ method: 'POST', url: '/console/session', payload: `key=${tenant.key}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.statusCode).toBe(415);
    const crossSite = await signIn(tenant.key, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.res.statusCode).toBe(403);

    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await h.app.inject({ method: 'POST', url: '/console/session', payload: { key: 'wrong' }, remoteAddress: '192.0.2.7' });
      statuses.push(res.statusCode);
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses[10]).toBe(429);
  });
});

describe('the API with a console session', () => {
  it('acts as the key: a tenant sees its own things and not the admin routes', async () => {
    const s = await signIn(tenant.key);
    const created = await asConsole(s, 'POST', '/api/v1/characters', { body: validCharacter({ name: 'Cookie Made' }) });
    expect(created.statusCode).toBe(201);
    const mine = await asConsole(s, 'GET', '/api/v1/characters?ownership=mine', { csrf: null });
    expect(mine.json().characters.map((c: { name: string }) => c.name)).toEqual(['Cookie Made']);
    const keys = await asConsole(s, 'GET', '/api/v1/api-keys', { csrf: null });
    expect(keys.statusCode).toBe(403);
  });

  it('needs the CSRF token for anything that changes state, and refuses cross-site requests', async () => {
    const s = await signIn(tenant.key);
    const body = validCharacter({ name: 'Forged' });
    for (const [csrf, headers] of [
      [null, {}],
      ['wrong-token', {}],
      [s.csrf.slice(0, -1), {}],
      [undefined, { 'sec-fetch-site': 'cross-site' }],
    ] as const) {
      const res = await asConsole(s, 'POST', '/api/v1/characters', { body, csrf, headers });
      expect(res.statusCode, String(csrf)).toBe(403);
      expect(errorOf(res).code).toBe('FORBIDDEN');
    }
    const mine = await asConsole(s, 'GET', '/api/v1/characters?ownership=mine&search=Forged', { csrf: null, headers: { 'sec-fetch-site': 'same-origin' } });
    expect(mine.json().characters).toEqual([]);
  });

  it('lets a presented key win over the cookie, without CSRF', async () => {
    const s = await signIn(tenant.key);
    const other = await h.newKey({ name: 'other' });
    const res = await asConsole(s, 'POST', '/api/v1/characters', { body: validCharacter({ name: 'By Header' }), csrf: null, headers: { 'x-api-key': other.key } });
    expect(res.statusCode).toBe(201);
    const ofOther = await h.call('GET', '/api/v1/characters?ownership=mine', { key: other.key });
    expect(ofOther.json().characters.map((c: { name: string }) => c.name)).toEqual(['By Header']);
  });

  it('ends when the key is disabled or the session expires', async () => {
    const key = await h.newKey({ name: 'short-lived' });
    const s = await signIn(key.key);
    expect((await asConsole(s, 'GET', '/api/v1/characters')).statusCode).toBe(200);
    await h.call('PATCH', `/api/v1/api-keys/${key.id}`, { body: { disabled: true } });
    const disabled = await asConsole(s, 'GET', '/api/v1/characters');
    expect(disabled.statusCode).toBe(401);
    expect(errorOf(disabled).message).toMatch(/disabled/);
    await h.call('PATCH', `/api/v1/api-keys/${key.id}`, { body: { disabled: false } });
    expect((await asConsole(s, 'GET', '/console/session')).statusCode).toBe(401);

    const later = await signIn(tenant.key);
    clock.advance(2 * 3_600_000 + 1);
    const expired = await asConsole(later, 'GET', '/api/v1/characters');
    expect(expired.statusCode).toBe(401);
    expect(errorOf(expired).message).toMatch(/expired/);
  });

  it('ends admin sessions when ADMIN_API_KEY changes', async () => {
    const s = await signIn(ADMIN_KEY);
    expect((await asConsole(s, 'GET', '/api/v1/api-keys')).statusCode).toBe(200);
    const config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', ADMIN_API_KEY: 'a-new-admin-key-0123456789' });
    const rotated = await buildApp({ config, log: h.log, services: servicesFor(h, config) });
    try {
      const res = await rotated.inject({ method: 'GET', url: '/api/v1/api-keys', headers: { cookie: s.cookie } });
      expect(res.statusCode).toBe(401);
      expect(errorOf(res).message).toMatch(/admin key has changed/);
    } finally {
      await rotated.close();
    }
  });
});

describe('avatars with the session cookie', () => {
  it('serves a private character’s picture to its owner’s session, privately cached, and to nobody after sign-out', async () => {
    const mine = await h.call('POST', '/api/v1/characters', { key: tenant.key, body: validCharacter({ name: 'Cookie Portrait' }) });
    const url = `/api/v1/characters/${mine.json().id}/avatar`;
    expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(404);
    const s = await signIn(tenant.key);
    const seen = await asConsole(s, 'GET', url, { csrf: null });
    expect(seen.statusCode).toBe(200);
    expect(seen.headers['content-type']).toBe('image/png');
    expect(seen.headers['cache-control']).toBe('private, max-age=300');
    const other = await signIn((await h.newKey()).key);
    expect((await asConsole(other, 'GET', url, { csrf: null })).statusCode).toBe(404);
    await asConsole(s, 'DELETE', '/console/session');
    expect((await asConsole(s, 'GET', url, { csrf: null })).statusCode).toBe(404);
    const preset = await h.app.inject({ method: 'GET', url: '/api/v1/characters/preset_aria/avatar' });
    expect(preset.headers['cache-control']).toBe('public, max-age=300');
  });
});

describe('DELETE /console/session', () => {
  it('needs the CSRF token, then signs out and clears the cookie', async () => {
    const s = await signIn(tenant.key);
    expect((await asConsole(s, 'DELETE', '/console/session', { csrf: null })).statusCode).toBe(403);
    const out = await asConsole(s, 'DELETE', '/console/session');
    expect(out.statusCode).toBe(200);
    const cleared = out.cookies.find((c) => c.name === 'cb_console')!;
    expect(cleared.value).toBe('');
    expect((await asConsole(s, 'GET', '/api/v1/characters')).statusCode).toBe(401);
  });
});
