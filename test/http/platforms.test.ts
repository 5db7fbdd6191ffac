import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { createTelegramAdapter } from '../../adapters/telegram/index.js';
import { loadConfig } from '../../src/config.js';
import { PlatformOverview, platformStatus } from '../../src/services/index.js';
import { inbound, say, startHarness } from '../helpers/harness.js';
import { startFakeTelegram } from '../fakes/telegram.js';
import { SCALED_TUNING } from '../adapters/telegram/world.js';
import { startApi, type ApiHarness } from './helpers.js';

const clock = new ManualClock();
let h: ApiHarness;

beforeAll(async () => {
  h = await startApi({ clock, env: { TELEGRAM_BOT_TOKEN: '123:abc', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-123', PROACTIVE_CRON: '*/5 * * * *' } });
});
afterAll(() => h.close());

/** What only a running adapter knows. */
const notRunning = { sent: null, inFlight: null, outbound: null };

describe('GET /api/v1/platforms', () => {
  it('lists each configured platform with its mode and newest event, and the proactive schedule', async () => {
    await say(h.engine, inbound({ text: 'hello' }));
    const conv = (await h.store.conversations.list({ platform: 'telegram', page: 1, limit: 1 })).conversations[0]!;
    await h.store.proactive.addOutbox(conv.id, 'delivered', clock.now(), true);

    const res = await h.call('GET', '/api/v1/platforms');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.platforms).toEqual([
      { platform: 'telegram', mode: 'polling', connected: null, lastEventAt: new Date(clock.now()).toISOString(), lastError: null, rateLimitWaits: 0, ...notRunning },
      { platform: 'slack', mode: 'http', connected: null, lastEventAt: null, lastError: null, rateLimitWaits: 0, ...notRunning },
    ]);
    expect(body.proactive).toMatchObject({ cron: '*/5 * * * *', defaults: { dailyCap: 2 } });
    expect(body.proactive.recentSends).toEqual([
      expect.objectContaining({ conversationId: conv.id, platform: 'telegram', state: 'delivered', forced: true, at: new Date(clock.now()).toISOString() }),
    ]);
  });

  it('is for the admin only', async () => {
    const tenant = await h.newKey();
    expect((await h.call('GET', '/api/v1/platforms', { key: tenant.key })).statusCode).toBe(403);
  });
});

describe('the platforms page with a running adapter', () => {
  it('reports the live state: connected, sends, events in flight and the outbound line', async () => {
    const fake = await startFakeTelegram();
    const harness = await startHarness({ maxRetries: 0 });
    const adapter = createTelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot }, { handler: harness.engine, log: harness.log, commands: harness.engine.menu, tuning: SCALED_TUNING });
    try {
      const config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', TELEGRAM_BOT_TOKEN: fake.token });
      const overview = new PlatformOverview(harness.store, platformStatus(config, harness.store, [adapter]));
      expect(await overview.adapters()).toEqual([expect.objectContaining({ platform: 'telegram', mode: 'polling', connected: false })]);
      await adapter.start();
      const [live] = await overview.adapters();
      expect(live).toMatchObject({ connected: true, rateLimitWaits: 0, sent: 0, inFlight: 0, outbound: { queued: 0, waitedMs: 0 } });
    } finally {
      await adapter.stop();
      await harness.close();
      await fake.close();
    }
  });
});
