import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { inbound, say } from '../helpers/harness.js';
import { startApi, type ApiHarness } from './helpers.js';

const clock = new ManualClock();
let h: ApiHarness;

beforeAll(async () => {
  h = await startApi({ clock, env: { TELEGRAM_BOT_TOKEN: '123:abc', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-123', PROACTIVE_CRON: '*/5 * * * *' } });
});
afterAll(() => h.close());

describe('GET /api/v1/platforms', () => {
  it('lists each configured platform with its mode and newest event, and the proactive schedule', async () => {
    await say(h.engine, inbound({ text: 'hello' }));
    const conv = (await h.store.conversations.list({ platform: 'telegram', page: 1, limit: 1 })).conversations[0]!;
    await h.store.proactive.addOutbox(conv.id, 'delivered', clock.now(), true);

    const res = await h.call('GET', '/api/v1/platforms');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.platforms).toEqual([
      { platform: 'telegram', mode: 'polling', connected: null, lastEventAt: new Date(clock.now()).toISOString(), lastError: null, rateLimitWaits: 0 },
      { platform: 'slack', mode: 'http', connected: null, lastEventAt: null, lastError: null, rateLimitWaits: 0 },
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
