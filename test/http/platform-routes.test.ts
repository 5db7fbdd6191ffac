/**
 * Platform webhook routes (Telegram's, Slack's) mounted raw on the HTTP server: one delivery per
 * chat message, so they are not access-logged at info; a failing one always is, and
 * LOG_LEVEL=debug logs every delivery.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/log.js';
import type { RawHttpRoute } from '../../src/core/adapter.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { ADMIN_KEY, servicesFor } from './helpers.js';

let h: Harness | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await h?.close();
  h = app = undefined;
});

const hook: RawHttpRoute = {
  method: 'POST',
  path: '/platform/hook',
  handle(req, res) {
    if (req.rawBody.toString() === 'boom') throw new Error('handler exploded');
    res.end('ok');
  },
};

async function serve(level: 'info' | 'debug') {
  const lines: Array<{ msg: string; level: number; req?: { url: string }; res?: { statusCode: number } }> = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  h = await startHarness();
  const config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: level, ADMIN_API_KEY: ADMIN_KEY });
  app = await buildApp({ config, log: createLogger({ level, destination: sink }), services: servicesFor(h, config), rawRoutes: [hook] });
  const post = (payload: string) => app!.inject({ method: 'POST', url: hook.path, payload, headers: { 'content-type': 'text/plain' } });
  return { lines, post, health: () => app!.inject({ method: 'GET', url: '/health' }) };
}

describe('platform webhook routes', () => {
  it('at info: deliveries leave no access log, a failing one is logged as an error, other routes keep theirs', async () => {
    const s = await serve('info');
    expect((await s.post('update')).statusCode).toBe(200);
    expect(s.lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toEqual([]);
    expect((await s.post('boom')).statusCode).toBe(500);
    expect(s.lines.filter((l) => l.msg === 'platform route failed').map((l) => l.level)).toEqual([50]);
    await s.health();
    expect(s.lines.filter((l) => l.msg === 'request completed').map((l) => l.res?.statusCode)).toEqual([200]);
  });

  it('at debug: every delivery is logged', async () => {
    const s = await serve('debug');
    await s.post('update');
    expect(s.lines.filter((l) => l.msg === 'incoming request').map((l) => l.req?.url)).toEqual([hook.path]);
    expect(s.lines.filter((l) => l.msg === 'request completed').map((l) => l.res?.statusCode)).toEqual([200]);
  });
});
