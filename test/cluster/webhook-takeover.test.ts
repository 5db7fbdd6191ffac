/**
 * kill -9 of an instance while it POSTs a webhook: the survivor, which had nothing of its own to
 * send and so no reason to look at the outbox, sends the delivery again under the same
 * X-Webhook-Id within seconds of the victim counting as dead, not whenever it next has a webhook
 * of its own to send.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { TestServer } from '../helpers/net.js';
import { waitFor } from '../adapters/telegram/world.js';
import { ADMIN, type Cluster } from './cluster-world.js';
import { startVictim, type Victim } from './victim.js';

describe.skipIf(!hasPostgres() || !hasRedis())('a webhook delivery whose instance is killed mid-POST', () => {
  let v: Victim;
  let c: Cluster;
  let receiver: TestServer;
  let answering = false;

  beforeAll(async () => {
    // While the victim lives its POST is never answered; once it is killed, every POST is.
    receiver = await new TestServer((_req, res) => {
      if (answering) res.writeHead(200).end();
    }).start();
    v = await startVictim(() => false, { SSRF_ALLOW_HOSTS: '127.0.0.1' });
    c = v.c;
  }, 90_000);
  afterAll(async () => {
    await v?.close();
    await receiver?.close();
  });

  it('is sent again by the survivor, once, under the same X-Webhook-Id', async () => {
    const tenant = await c.api(0, 'POST', '/api/v1/api-keys', ADMIN, { name: 'hooked', credits: 10, webhookUrl: receiver.url('/hook'), webhookSecret: 'whsec-0123456789abcdef' });
    const key = tenant.body.key as string;
    const chat = await fetch(`${v.child.url}/api/v1/chat`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ characterId: 'aria', message: 'hello there' }),
    });
    const sessionId = ((await chat.json()) as { sessionId: string }).sessionId;
    const sent = await fetch(`${v.child.url}/api/v1/conversations/${sessionId}/proactive/test`, { method: 'POST', headers: { 'x-api-key': key } });
    expect(sent.status).toBe(200);
    await waitFor(() => receiver.received.length === 1, 15_000, () => `the victim to POST the webhook\n${v.child.output().slice(-2000)}`);

    answering = true;
    await v.kill();

    await waitFor(() => receiver.received.length >= 2, 15_000, 'the survivor to send the delivery again');
    const ids = receiver.received.map((r) => r.headers['x-webhook-id']);
    expect(ids).toEqual([ids[0], ids[0]]);
    const row = async () => c.instances[0]!.store.webhooks.forEvent(String(ids[0]));
    for (const deadline = Date.now() + 5_000; (await row())?.state !== 'delivered' && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    expect(await row()).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(receiver.received).toHaveLength(2);
  }, 60_000);
});
