/**
 * `/ready` with a real Telegram adapter polling the fake Bot API: not ready until the adapter
 * connects, ready while it polls, not ready again once it stops — and "charbridge is running"
 * is logged only once ready.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createTelegramAdapter, type TelegramAdapter } from '../../adapters/telegram/index.js';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { announceWhenReady } from '../../src/announce.js';
import { createLogger } from '../../src/log.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import { SCALED_TUNING, waitFor } from '../adapters/telegram/world.js';
import { ADMIN_KEY, servicesFor } from './helpers.js';

let fake: FakeTelegram | undefined;
let h: Harness | undefined;
let adapter: TelegramAdapter | undefined;
afterEach(async () => {
  await adapter?.stop();
  await h?.close();
  await fake?.close();
  fake = h = adapter = undefined;
});

async function setUp() {
  fake = await startFakeTelegram();
  h = await startHarness({ maxRetries: 0 });
  const a = createTelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot }, { handler: h.engine, log: h.log, commands: h.engine.menu, tuning: SCALED_TUNING });
  adapter = a;
  const config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', ADMIN_API_KEY: ADMIN_KEY, TELEGRAM_BOT_TOKEN: fake.token });
  const services = servicesFor(h, config, { adapterStates: () => [a.status()] });
  const app = await buildApp({ config, log: h.log, services });
  return { adapter: a, services, ready: () => app.inject({ method: 'GET', url: '/ready' }) };
}

describe('GET /ready', () => {
  it('answers 503 naming the platform until its adapter connects, 200 while it polls, 503 once it stops', async () => {
    const s = await setUp();
    const before = await s.ready();
    expect(before.statusCode).toBe(503);
    expect(before.json()).toMatchObject({
      status: 'not_ready',
      message: 'Not ready — telegram: not connected (polling)',
      checks: [{ name: 'database', ready: true }, { name: 'migrations', ready: true }, { name: 'telegram', ready: false }],
    });

    await s.adapter.start();
    const after = await s.ready();
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual({ status: 'ready', checks: [{ name: 'database', ready: true }, { name: 'migrations', ready: true }, { name: 'telegram', ready: true }] });

    await s.adapter.stop();
    expect((await s.ready()).statusCode).toBe(503);
  });

  it('logs "charbridge is running" only after the platform connected', async () => {
    const s = await setUp();
    const lines: Array<{ msg: string }> = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
    const stop = new AbortController();
    const announced = announceWhenReady({
      readiness: s.services.readiness,
      log: createLogger({ level: 'info', destination: sink }),
      signal: stop.signal,
      intervalMs: 5,
      info: () => ({ url: 'http://0.0.0.0:3000', adminKey: { key: ADMIN_KEY, origin: 'env', file: null }, model: { label: 'fake', offline: false }, platforms: [{ platform: 'telegram', mode: 'polling' }] }),
    });
    await waitFor(() => lines.some((l) => l.msg === 'started; waiting until ready'));
    expect(lines.map((l) => l.msg)).not.toContain('charbridge is running');

    await s.adapter.start();
    expect(await announced).toBe(true);
    const running = lines.find((l) => l.msg === 'charbridge is running');
    expect(running).toMatchObject({ url: 'http://localhost:3000', console: 'http://localhost:3000/console/', platforms: ['telegram:polling'] });
    expect(lines.indexOf(running!)).toBeGreaterThan(lines.findIndex((l) => l.msg === 'started; waiting until ready'));
  });
});
