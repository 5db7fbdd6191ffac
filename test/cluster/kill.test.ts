/**
 * kill -9 of an instance mid-turn: what it had accepted — a Telegram message, an async API turn —
 * is answered once by a surviving instance, within seconds, with the credit charged once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { waitFor } from '../adapters/telegram/world.js';
import { postUpdate } from '../fakes/telegram-webhook.js';
import { ADMIN, SECRET, type Cluster } from './cluster-world.js';
import { startVictim, type Victim } from './victim.js';

describe.skipIf(!hasPostgres() || !hasRedis())('an instance killed mid-turn', () => {
  let v: Victim;
  let c: Cluster;

  beforeAll(async () => {
    v = await startVictim((text) => text.includes('doomed'));
    c = v.c;
  }, 90_000);
  afterAll(async () => {
    await v?.close();
  });

  it('answers its accepted Telegram message and async API turn once, from the survivor', async () => {
    const tenant = await c.api(0, 'POST', '/api/v1/api-keys', ADMIN, { name: 'victim-client', credits: 5 });
    const key = tenant.body.key as string;
    const update = c.telegram.buildUserMessage({ chat: { id: 801, type: 'private' }, from: { id: 801 }, text: 'doomed message' });
    const accepted = await postUpdate(`${v.child.url}/telegram/webhook`, update, SECRET, false);
    expect(accepted.status).toBe(200);
    const async = await fetch(`${v.child.url}/api/v1/chat`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ characterId: 'aria', message: 'doomed api turn', mode: 'async' }),
    });
    expect(async.status).toBe(202);
    await waitFor(() => v.parked() === 2, 15_000, 'both turns to reach the model on the victim');

    await v.kill();

    await waitFor(() => c.telegram.botMessages(801).length >= 1, 15_000, () => `the survivor to answer the Telegram message\n${v.child.output().slice(-2000)}`);
    let feed: any[] = [];
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      feed = (await c.api(0, 'GET', '/api/v1/updates', key)).body.updates;
      if (feed.length) break;
    }
    // Give a duplicate every chance to show up, then count.
    await c.instances[0]!.engine.drain(5000);
    await c.instances[0]!.adapters[0]!.settled();
    expect(c.telegram.botMessages(801).map((m) => m.text)).toEqual(['re: doomed message']);
    const keys = await c.api(0, 'GET', '/api/v1/api-keys', ADMIN);
    expect(keys.body.apiKeys.find((k: any) => k.name === 'victim-client').creditsUsed).toBe(1);
    expect(feed.map((u) => [u.kind, u.message?.content])).toEqual([['reply', 're: doomed api turn']]);
  }, 60_000);
});
