/**
 * Discord behind an outbound proxy that wants a login: the gateway's WebSocket, the connection
 * discord.js resumes on, and the connection a restarted adapter opens to have Discord replay its
 * previous session all go through it (tunnels), beside the REST calls (forwarded); a client
 * logging in beside it without a proxy connects directly. The real discord.js against the fake
 * Discord, through a real forward proxy (test/fakes/proxy.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DiscordAdapter } from '../../../adapters/discord/index.js';
import { createNetwork, type Network } from '../../../src/core/network.js';
import { readProxySettings } from '../../../src/core/proxy.js';
import { startFakeProxy, type FakeProxy } from '../../fakes/proxy.js';
import { alice, startDiscord, type Setup } from './helpers.js';

const carol = { id: '511111111111111111', username: 'carol' };

let s: Setup | undefined;
let other: Setup | undefined;
let next: DiscordAdapter | undefined;
let proxy: FakeProxy | undefined;
let network: Network | undefined;
afterEach(async () => {
  await next?.stop();
  await s?.close();
  await other?.close();
  await network?.close();
  await proxy?.close();
  s = other = next = proxy = network = undefined;
});

describe('discord adapter behind an outbound proxy', () => {
  it('opens the gateway, its resumes and the replay of the previous session through it', async () => {
    proxy = await startFakeProxy({ credentials: 'egress:s3cret-pass' });
    network = await createNetwork(readProxySettings({ HTTP_PROXY: proxy.url.replace('http://', 'http://egress:s3cret-pass@'), NO_PROXY: '' }).settings);
    s = await startDiscord({ catchUp: true, network, fake: { shards: { identifyWindowMs: 1 } } });
    const { fake, texts } = s;
    const discordHost = new URL(fake.restApi).host;
    const tunnels = () => proxy!.seen.filter((r) => r.method === 'CONNECT' && r.target === discordHost);

    const m = fake.userMessage({ author: alice, content: 'hello' });
    await fake.waitFor(() => texts(m.channel_id).length === 1);
    expect(tunnels()).toHaveLength(1);
    // Told to reconnect, discord.js resumes on a new connection, through the proxy.
    fake.requestReconnect();
    await fake.waitFor(() => fake.gatewayStats().resumes === 1 && fake.gatewayStats().liveSockets === 1, 10_000);
    expect(tunnels()).toHaveLength(2);

    // Stopped with its session left resumable; a first DM arrives while no process listens.
    await s.idle();
    await s.adapter.stop();
    const dm = fake.userMessage({ author: carol, content: 'hi, first time here' }).channel_id as string;
    next = s.newAdapter();
    await next.start();
    await fake.waitFor(() => texts(dm).length === 1, 10_000);
    expect(texts(dm)).toEqual(['Echo: hi, first time here']);
    // The replay's own connection (RESUME, then closed with 1000) and the new session's: both tunnelled.
    expect(fake.gatewayLog.filter((e) => e.dir === 'in' && e.op === 6)).toHaveLength(2);
    expect(tunnels()).toHaveLength(4);
    expect(proxy.seen.filter((r) => !r.auth)).toEqual([]);
    expect(proxy.seen.some((r) => r.method === 'GET' && r.target.endsWith('/api/v10/gateway/bot'))).toBe(true);
  });

  it('gives each client its own way out when two log in at once in one process, one through the proxy and one directly', async () => {
    proxy = await startFakeProxy({ credentials: 'egress:s3cret-pass' });
    network = await createNetwork(readProxySettings({ HTTP_PROXY: proxy.url.replace('http://', 'http://egress:s3cret-pass@'), NO_PROXY: '' }).settings);
    s = await startDiscord({ network, start: false });
    other = await startDiscord({ start: false });
    await Promise.all([s.adapter.start(), other.adapter.start()]);
    const tunnelsTo = (restApi: string) => proxy!.seen.filter((r) => r.method === 'CONNECT' && r.target === new URL(restApi).host).length;
    expect(tunnelsTo(s.fake.restApi)).toBe(1);
    expect(tunnelsTo(other.fake.restApi)).toBe(0);
    // Both connected and answer.
    const a = s.fake.userMessage({ author: alice, content: 'via the proxy' });
    const b = other.fake.userMessage({ author: alice, content: 'directly' });
    await s.fake.waitFor(() => s!.texts(a.channel_id).length === 1);
    await other.fake.waitFor(() => other!.texts(b.channel_id).length === 1);
    expect(proxy.seen.every((r) => !r.target.includes(new URL(other!.fake.restApi).host))).toBe(true);
  });
});
