/**
 * The three forms ../../src/core/network.ts offers the libraries, against the fake forward proxy:
 * plain-http targets go in absolute form (a firewall's proxy often allows CONNECT only to 443),
 * TLS targets and WebSocket upgrades through a CONNECT tunnel, NO_PROXY hosts directly.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetwork, directNetwork, type Network } from '../../src/core/network.js';
import { readProxySettings } from '../../src/core/proxy.js';
import { startFakeProxy, type FakeProxy } from '../fakes/proxy.js';

let proxy: FakeProxy | undefined;
let network: Network | undefined;
let server: Server | undefined;
afterEach(async () => {
  await network?.close();
  await proxy?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  proxy = network = server = undefined;
});

async function world(env: (proxyUrl: string) => Record<string, string>) {
  proxy = await startFakeProxy();
  server = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`origin saw ${req.method} ${req.url}`));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const made = await createNetwork(readProxySettings(env(proxy.url)).settings);
  network = made;
  return { proxy, network: made, origin };
}

const text = async (res: unknown) => (res as { text(): Promise<string> }).text();

describe('the network the libraries are given', () => {
  it('forwards plain http in absolute form, by the fetch and by the dispatcher alike', async () => {
    const w = await world((p) => ({ HTTP_PROXY: p }));
    expect(await text(await w.network.fetch(`${w.origin}/v1/models`))).toBe('origin saw GET /v1/models');
    const viaUndici = await fetch(`${w.origin}/file/x`, { dispatcher: w.network.dispatcher } as RequestInit);
    expect(await viaUndici.text()).toBe('origin saw GET /file/x');
    expect(w.proxy.seen.map((r) => `${r.method} ${r.target}`)).toEqual([`GET ${w.origin}/v1/models`, `GET ${w.origin}/file/x`]);
    expect(w.network.agentFor(w.origin)).toBeDefined();
  });

  it('keeps a connection to the proxy alive between calls, and lets an idle one go after 4 s as the direct agents do', async () => {
    const w = await world((p) => ({ HTTP_PROXY: p }));
    for (const path of ['/one', '/two', '/three']) expect(await text(await w.network.fetch(`${w.origin}${path}`))).toBe(`origin saw GET ${path}`);
    expect(w.proxy.connections()).toBe(1);
    // The idle connection waits in the agent with the same idle timeout as the direct ones.
    const agent = w.network.agentFor(w.origin) as unknown as { freeSockets: Record<string, Array<{ timeout: number }>> };
    expect(Object.values(agent.freeSockets).flat().map((s) => s.timeout)).toEqual([4000]);
  });

  it('tunnels TLS targets with CONNECT, through the fetch and the dispatcher', async () => {
    const w = await world((p) => ({ HTTPS_PROXY: p }));
    // The fake proxy cannot resolve these names, so the calls fail (the node agent hands back the
    // proxy's own 502, undici throws); what matters is what it was asked.
    expect(((await w.network.fetch('https://model.invalid/v1/chat/completions')) as { status: number }).status).toBe(502);
    await expect(fetch('https://cdn.invalid/file', { dispatcher: w.network.dispatcher } as RequestInit)).rejects.toThrow();
    expect(w.proxy.seen.map((r) => `${r.method} ${r.target}`)).toEqual(['CONNECT model.invalid:443', 'CONNECT cdn.invalid:443']);
    // HTTPS_PROXY alone leaves plain http direct.
    expect(await text(await w.network.fetch(`${w.origin}/direct`))).toBe('origin saw GET /direct');
    expect(w.network.agentFor(w.origin)).toBeUndefined();
    expect(w.proxy.seen).toHaveLength(2);
  });

  it('goes directly to what NO_PROXY lists, and is the direct network without a proxy', async () => {
    const w = await world((p) => ({ HTTP_PROXY: p, NO_PROXY: '127.0.0.1' }));
    expect(await text(await w.network.fetch(`${w.origin}/listed`))).toBe('origin saw GET /listed');
    expect(await (await fetch(`${w.origin}/listed`, { dispatcher: w.network.dispatcher } as RequestInit)).text()).toBe('origin saw GET /listed');
    expect(w.proxy.seen).toEqual([]);
    expect(await createNetwork(readProxySettings({}).settings)).toBe(directNetwork);
    expect(directNetwork.dispatcher).toBeUndefined();
  });
});
