/**
 * The network the libraries are given (../../src/core/network.ts) through a SOCKS5 proxy, by the
 * node agents (the fetch, telegraf's agent) and by the undici dispatcher alike: `socks5://`
 * resolves names here and hands the proxy an address, `socks5h://` hands it the name; a TLS
 * target is relayed like any other; kept-alive connections idle out as the direct ones do.
 */
import { lookup } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetwork, type Network } from '../../src/core/network.js';
import { readProxySettings } from '../../src/core/proxy.js';
import { freePort } from '../cluster/child-instance.js';
import { startFakeSocks, type FakeSocks } from '../fakes/socks.js';

let socks: FakeSocks | undefined;
let network: Network | undefined;
let server: Server | undefined;
afterEach(async () => {
  await network?.close();
  await socks?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  socks = network = server = undefined;
});

/** An origin on the address `localhost` resolves to here, so either side may resolve the name. */
async function world(scheme: 'socks5' | 'socks5h', credentials?: string) {
  socks = await startFakeSocks(credentials ? { credentials } : {});
  const { address } = await lookup('localhost');
  server = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`origin saw ${req.method} ${req.url}`));
  await new Promise<void>((r) => server!.listen(0, address, () => r()));
  const port = (server.address() as AddressInfo).port;
  const made = await createNetwork(readProxySettings({ ALL_PROXY: socks.url.replace('socks5h:', `${scheme}:`) }).settings);
  network = made;
  return { socks, network: made, origin: `http://localhost:${port}`, address, port };
}

const text = async (res: unknown) => (res as { text(): Promise<string> }).text();

describe('the network through a SOCKS5 proxy', () => {
  it('hands a socks5h proxy the name, by the fetch and the dispatcher, with the login', async () => {
    const w = await world('socks5h', 'egress:s3cret-pass');
    expect(await text(await w.network.fetch(`${w.origin}/v1/models`))).toBe('origin saw GET /v1/models');
    const viaUndici = await fetch(`${w.origin}/file/x`, { dispatcher: w.network.dispatcher } as RequestInit);
    expect(await viaUndici.text()).toBe('origin saw GET /file/x');
    expect(w.socks.seen.map((r) => `${r.by} ${r.target} ${r.user}`)).toEqual([`name localhost:${w.port} egress`, `name localhost:${w.port} egress`]);
  });

  it('resolves the name here for socks5, and hands the proxy the address', async () => {
    const w = await world('socks5');
    expect(await text(await w.network.fetch(`${w.origin}/here`))).toBe('origin saw GET /here');
    expect(await (await fetch(`${w.origin}/here`, { dispatcher: w.network.dispatcher } as RequestInit)).text()).toBe('origin saw GET /here');
    const ip = w.address.includes(':') ? 'ipv6' : 'ipv4';
    expect(w.socks.seen.map((r) => r.by)).toEqual([ip, ip]);
  });

  it('relays a TLS target like any other, and keeps a connection alive with the 4 s idle timeout', async () => {
    const w = await world('socks5h');
    // Nothing listens on this port (the fake relays these names to 127.0.0.1), so the calls fail
    // at the relay; what matters is that the proxy was asked for the target itself.
    const closed = await freePort();
    await expect(w.network.fetch(`https://model.invalid:${closed}/v1/chat/completions`)).rejects.toThrow();
    await expect(fetch(`https://cdn.invalid:${closed}/file`, { dispatcher: w.network.dispatcher } as RequestInit)).rejects.toThrow();
    expect(w.socks.seen.map((r) => r.target)).toEqual([`model.invalid:${closed}`, `cdn.invalid:${closed}`]);
    for (const path of ['/one', '/two', '/three']) expect(await text(await w.network.fetch(`${w.origin}${path}`))).toBe(`origin saw GET ${path}`);
    expect(w.socks.connections()).toBe(3); // two refused relays, then one kept-alive connection for three calls
    const agent = w.network.agentFor(w.origin) as unknown as { freeSockets: Record<string, Array<{ timeout: number }>> };
    expect(Object.values(agent.freeSockets).flat().map((s) => s.timeout)).toEqual([4000]);
  });

  it('reaches a proxy at an IPv6 address, written in brackets', async (ctx) => {
    const w = await world('socks5h');
    // A machine without IPv6 loopback cannot run this one; it says so rather than pass.
    const v6 = await startFakeSocks({ host: '::1' }).catch(() => ctx.skip('no IPv6 loopback on this machine'));
    const through = await createNetwork(readProxySettings({ ALL_PROXY: v6.url }).settings);
    try {
      expect(v6.url).toMatch(/^socks5h:\/\/\[::1\]:\d+$/);
      expect(await text(await through.fetch(`${w.origin}/v6`))).toBe('origin saw GET /v6');
      expect(await (await fetch(`${w.origin}/v6`, { dispatcher: through.dispatcher } as RequestInit)).text()).toBe('origin saw GET /v6');
      expect(v6.seen.map((r) => r.target)).toEqual([`localhost:${w.port}`, `localhost:${w.port}`]);
    } finally {
      await through.close();
      await v6.close();
    }
  });

  it('refuses a wrong login before relaying anything', async () => {
    const w = await world('socks5h', 'egress:s3cret-pass');
    const wrong = await createNetwork(readProxySettings({ ALL_PROXY: w.socks.url.replace('s3cret-pass', 'wrong') }).settings);
    try {
      await expect(wrong.fetch(`${w.origin}/x`)).rejects.toThrow(/Socks5 Authentication failed/);
      await expect(fetch(`${w.origin}/x`, { dispatcher: wrong.dispatcher } as RequestInit)).rejects.toThrow();
    } finally {
      await wrong.close();
    }
    expect(w.socks.seen).toEqual([]);
  });
});
