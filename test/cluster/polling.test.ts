/**
 * Telegram long polling with two instances: Telegram lets one client poll a token at a time (a
 * second one's getUpdates ends the first's with 409), so exactly one instance polls, and when
 * it stops the other takes over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { waitFor } from '../adapters/telegram/world.js';
import { startCluster, type Cluster } from './cluster-world.js';

describe.skipIf(!hasPostgres() || !hasRedis())('Telegram polling with two instances', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster(2, {}, { polling: true });
  });
  afterAll(async () => {
    await c?.close();
  });

  it('polls from one instance at a time and hands over when it stops', async () => {
    // A poller starts from offset 0; a second one polling alongside would show as another start.
    const starts = () => c.telegram.calls.filter((x) => x.method === 'getUpdates' && Number(x.params.offset ?? 0) === 0).length;
    for (let i = 0; i < 3; i++) c.telegram.userMessage({ chat: { id: 611, type: 'private' }, from: { id: 611 }, text: `before ${i}` });
    await waitFor(() => c.telegram.botMessages(611).length === 3, 15_000, 'three replies');
    await new Promise((r) => setTimeout(r, 1500)); // the other instance asks for the lock meanwhile
    expect(starts()).toBe(1);

    // Whichever instance was polling, after instance 0 stops the other one is (or stays) the poller.
    await c.instances[0]!.shutdown('leader test');
    for (let i = 0; i < 2; i++) c.telegram.userMessage({ chat: { id: 611, type: 'private' }, from: { id: 611 }, text: `after ${i}` });
    await waitFor(() => c.telegram.botMessages(611).length === 5, 20_000, () => `five replies, got ${c.telegram.botMessages(611).length}`);
    expect(c.telegram.botMessages(611).map((m) => m.text)).toEqual(['Echo: before 0', 'Echo: before 1', 'Echo: before 2', 'Echo: after 0', 'Echo: after 1']);
  }, 60_000);
});
