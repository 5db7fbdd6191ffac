import { afterEach, expect, it } from 'vitest';
import { signWebhook, WebhookSender, type WebhookSenderOptions } from '../../src/services/webhooks.js';
import { testLogger } from '../helpers/harness.js';
import { ManualTimers, pinnedResolver, TestServer, trickle } from '../helpers/net.js';
import { describeStores } from '../store/backends.js';
import { dropOnce } from '../helpers/dropped-connection.js';

const SECRET = 'whsec-0123456789abcdef';
const servers: TestServer[] = [];
const senders: WebhookSender[] = [];

afterEach(async () => {
  while (senders.length) await senders.pop()!.stop();
  while (servers.length) await servers.pop()!.close();
});

async function server(handle: ConstructorParameters<typeof TestServer>[0], host?: string, port?: number): Promise<TestServer> {
  const s = await new TestServer(handle).start(host, port);
  servers.push(s);
  return s;
}

/** Answers with each status in turn, the last one for ever after. */
const statuses = (...codes: number[]) => server((_req, res, srv) => res.writeHead(codes[Math.min(srv.received.length, codes.length) - 1]!).end());

describeStores('WebhookSender', (ctx) => {
  const sender = (opts: Partial<WebhookSenderOptions> = {}) => {
    const s = new WebhookSender(ctx.store, ctx.clock, testLogger(), { ssrfAllowHosts: ['127.0.0.1'], ...opts });
    senders.push(s);
    return s;
  };
  const tenant = async (url: string) => (await ctx.store.apiKeys.create({ name: 't', webhookUrl: url, webhookSecret: SECRET })).apiKey.id;
  const enqueue = (keyId: string, eventId: string) =>
    ctx.store.webhooks.enqueue({ eventId, apiKeyId: keyId, event: 'proactive_message', payload: JSON.stringify({ eventId }) }, ctx.clock.now());

  it('a receiver failing twice gets exactly 3 POSTs under one X-Webhook-Id, with two processes on one database', async () => {
    const receiver = await statuses(503, 500, 200);
    const keyId = await tenant(receiver.url('/hook'));
    const [a, b] = [sender({ owner: 'process-a' }), sender({ owner: 'process-b' })];
    await a.enqueue(keyId, 'proactive_message', 'evt_1', { hello: 'world' });
    for (let round = 0; round < 5; round++) {
      await Promise.all([a.processDue(), b.processDue(), a.processDue(), b.processDue()]);
      ctx.clock.advance(10_000);
    }
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['x-webhook-id']))).toEqual(new Set(['evt_1']));
    expect(receiver.received.every((r) => r.headers['x-webhook-signature'] === signWebhook(SECRET, r.body))).toBe(true);
    expect(await ctx.store.webhooks.forEvent('evt_1')).toMatchObject({ state: 'delivered', attempts: 3 });
  });

  it('retries a delivery whose sender died mid-attempt once its claim lapses, under the same X-Webhook-Id', async () => {
    const receiver = await statuses(200);
    const keyId = await tenant(receiver.url('/hook'));
    await enqueue(keyId, 'evt_crash');
    expect(await ctx.store.webhooks.claimNext(keyId, 'crashed-process', ctx.clock.now(), 70_000)).not.toBeNull();
    const survivor = sender({ owner: 'survivor', timeoutMs: 10_000 });
    expect(await survivor.processDue()).toBe(0); // the claim is still live: not sent twice
    ctx.clock.advance(70_000);
    expect(await survivor.processDue()).toBe(1);
    expect(receiver.received.map((r) => r.headers['x-webhook-id'])).toEqual(['evt_crash']);
    expect(await ctx.store.webhooks.forEvent('evt_crash')).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('retries at once, not after the lease, a delivery whose sender is an instance no longer heard from; and holds back the key behind one whose instance lives', async () => {
    const receiver = await statuses(200);
    const keyId = await tenant(receiver.url('/hook'));
    await enqueue(keyId, 'evt_killed');
    await enqueue(keyId, 'evt_next');
    const now = ctx.clock.now();
    await ctx.store.instances.register('survivor', now);
    await ctx.store.instances.register('busy', now);
    // A live instance's attempt holds the key's lane: nothing of the key goes out meanwhile.
    expect(await ctx.store.webhooks.claimNext(keyId, 'busy', now, 70_000, 10_000)).toMatchObject({ eventId: 'evt_killed' });
    const survivor = sender({ owner: 'survivor', timeoutMs: 10_000, deadAfterMs: 10_000 });
    expect(await survivor.processDue()).toBe(0);
    // Its instance is killed: 10 s without a heartbeat (the survivor's own goes on), well inside the 70 s lease.
    ctx.clock.advance(11_000);
    await ctx.store.instances.beat('survivor', ctx.clock.now());
    expect(await ctx.store.webhooks.nextDueAt(ctx.clock.now(), [], 10_000)).toBeLessThanOrEqual(ctx.clock.now() + 10_000);
    expect(await survivor.processDue()).toBe(2);
    expect(receiver.received.map((r) => r.headers['x-webhook-id'])).toEqual(['evt_killed', 'evt_next']);
    expect(await ctx.store.webhooks.forEvent('evt_killed')).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('sends again, under the same X-Webhook-Id, a delivery whose outcome the database dropped under, without waiting out its lease', async () => {
    const receiver = await statuses(200);
    const keyId = await tenant(receiver.url('/hook'));
    await enqueue(keyId, 'evt_unrecorded');
    const s = sender({ owner: 'this-process', timeoutMs: 10_000 });
    dropOnce(ctx.store.webhooks, 'finish', { only: (_id: number, owner: string) => owner === 'this-process' });
    await s.processDue(); // POSTed; recording it met a dropped connection, so the claim stands
    expect(receiver.received).toHaveLength(1);
    expect(await ctx.store.webhooks.forEvent('evt_unrecorded')).toMatchObject({ state: 'sending' });
    expect(await ctx.store.webhooks.nextDueAt(ctx.clock.now(), [], undefined, 'this-process')).toBe(ctx.clock.now());
    ctx.clock.advance(1000); // far inside the 70 s lease
    expect(await s.processDue()).toBe(1);
    expect(receiver.received.map((r) => r.headers['x-webhook-id'])).toEqual(['evt_unrecorded', 'evt_unrecorded']);
    expect(await ctx.store.webhooks.forEvent('evt_unrecorded')).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('connects to the address it checked, not to a second DNS answer', async () => {
    // 127.0.0.2 stands for a public address: the judge refuses every other one.
    const victim = await server((_req, res) => res.writeHead(200).end());
    const receiver = await server((_req, res) => res.writeHead(200).end(), '127.0.0.2', victim.port);
    const resolve = pinnedResolver({ 'hooks.example.test': (call) => (call === 1 ? ['127.0.0.2'] : ['127.0.0.1']) });
    const keyId = await tenant(`http://hooks.example.test:${victim.port}/hook`);
    await enqueue(keyId, 'evt_rebind');
    const s = sender({ ssrfAllowHosts: [], resolve, isBlocked: (ip) => ip !== '127.0.0.2' });
    expect(await s.processDue()).toBe(1);
    expect(receiver.received).toHaveLength(1);
    expect(victim.received).toHaveLength(0);
    expect(resolve.calls.get('hooks.example.test')).toBe(1);
  });

  it('gives each attempt one total deadline, which a receiver trickling bytes does not reset', async () => {
    const receiver = await server((_req, res, srv) => trickle(res, srv));
    const keyId = await tenant(receiver.url('/hook'));
    await enqueue(keyId, 'evt_slow');
    const timers = new ManualTimers();
    const pass = sender({ timer: timers.start, timeoutMs: 10_000 }).processDue();
    await receiver.requests(1);
    expect(timers.fireAll()).toEqual([10_000]);
    expect(await pass).toBe(0);
    expect(await ctx.store.webhooks.forEvent('evt_slow')).toMatchObject({ state: 'pending', attempts: 1, last_error: 'webhookUrl took longer than 10 s' });
  });

  it("delivers other keys while one receiver hangs; one key's deliveries go one at a time, in order", async () => {
    let releaseSlow = () => {};
    const slow = await server((_req, res) => (releaseSlow = () => res.writeHead(200).end()));
    const fast = await server((_req, res) => res.writeHead(200).end());
    const slowKey = await tenant(slow.url('/hook'));
    const fastKey = await tenant(fast.url('/hook'));
    await enqueue(slowKey, 'evt_slow_1');
    ctx.clock.advance(1);
    await enqueue(slowKey, 'evt_slow_2');
    ctx.clock.advance(1);
    await enqueue(fastKey, 'evt_fast');
    const pass = sender({ timeoutMs: 60_000 }).processDue();
    await Promise.all([slow.requests(1), fast.requests(1)]); // the fast one arrives while the slow one hangs
    releaseSlow();
    await slow.requests(2);
    releaseSlow();
    expect(await pass).toBe(3);
    expect(slow.received.map((r) => r.headers['x-webhook-id'])).toEqual(['evt_slow_1', 'evt_slow_2']);
    expect(slow.maxOpen).toBe(1);
  });
});
