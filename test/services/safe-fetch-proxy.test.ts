/**
 * Webhooks and image URLs through the outbound proxy: the name is still resolved and judged here,
 * and the proxy is asked for the vetted address, never the name, so its own DNS cannot point the
 * request inside the network. A plain target goes in absolute form, a TLS one through a CONNECT
 * tunnel to the address; through a SOCKS5 proxy both are relayed to the address.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readProxySettings } from '../../src/core/proxy.js';
import { safeFetch, SafeFetchError } from '../../src/services/safe-fetch.js';
import { startFakeProxy, type FakeProxy } from '../fakes/proxy.js';
import { startFakeSocks } from '../fakes/socks.js';
import { pinnedResolver } from '../helpers/net.js';

let proxy: FakeProxy | undefined;
let server: Server | undefined;
afterEach(async () => {
  await proxy?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  proxy = server = undefined;
});

async function world(credentials?: string) {
  proxy = await startFakeProxy(credentials ? { credentials } : {});
  const received: Array<{ method: string; url: string; host: string; body: string }> = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { proxy, received, port: (server.address() as AddressInfo).port };
}

const resolve = pinnedResolver({ 'hooks.test': ['127.0.0.1'], 'inside.test': ['10.0.0.7'] });

describe('safeFetch through a proxy', () => {
  it('asks the proxy for the address it vetted, with the name only in Host, and brings the login', async () => {
    const w = await world('egress:s3cret-pass');
    const settings = readProxySettings({ HTTP_PROXY: w.proxy.url.replace('http://', 'http://egress:s3cret-pass@') }).settings;
    const res = await safeFetch(
      `http://hooks.test:${w.port}/deliver?x=1`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"ok":true}'), deadlineMs: 5000, maxBytes: 100 },
      { allowHosts: ['hooks.test'], resolve, proxy: settings },
    );
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('thanks');
    expect(w.proxy.seen.map((r) => `${r.method} ${r.target}`)).toEqual([`POST http://127.0.0.1:${w.port}/deliver?x=1`]);
    expect(w.proxy.seen[0]!.auth).toBe(`Basic ${Buffer.from('egress:s3cret-pass').toString('base64')}`);
    expect(w.received).toEqual([{ method: 'POST', url: '/deliver?x=1', host: `hooks.test:${w.port}`, body: '{"ok":true}' }]);
  });

  it('tunnels a TLS target to the vetted address', async () => {
    const w = await world();
    const settings = readProxySettings({ HTTPS_PROXY: w.proxy.url }).settings;
    // The origin speaks plain http, so the TLS handshake inside the tunnel fails; the tunnel's target is what counts.
    await expect(
      safeFetch(`https://hooks.test:${w.port}/deliver`, { method: 'POST', body: Buffer.from('{}'), deadlineMs: 5000, maxBytes: 0 }, { allowHosts: ['hooks.test'], resolve, proxy: settings }),
    ).rejects.toThrow(SafeFetchError);
    expect(w.proxy.seen.map((r) => `${r.method} ${r.target}`)).toEqual([`CONNECT 127.0.0.1:${w.port}`]);
  });

  it('refuses an inside address before the proxy hears of it, and leaves NO_PROXY hosts direct', async () => {
    const w = await world();
    await expect(
      safeFetch('http://inside.test/x', { method: 'GET', deadlineMs: 5000, maxBytes: 100 }, { allowHosts: [], resolve, proxy: readProxySettings({ HTTP_PROXY: w.proxy.url }).settings }),
    ).rejects.toThrow(SafeFetchError);
    const direct = await safeFetch(
      `http://hooks.test:${w.port}/direct`,
      { method: 'GET', deadlineMs: 5000, maxBytes: 100 },
      { allowHosts: ['hooks.test'], resolve, proxy: readProxySettings({ HTTP_PROXY: w.proxy.url, NO_PROXY: 'hooks.test' }).settings },
    );
    expect(direct.status).toBe(200);
    expect(w.proxy.seen).toEqual([]);
  });
  it('has a SOCKS5 proxy relay to the vetted address, even one that would resolve names itself', async () => {
    const w = await world();
    const socks = await startFakeSocks({ credentials: 'egress:s3cret-pass' });
    try {
      const settings = readProxySettings({ ALL_PROXY: socks.url }).settings; // socks5h://
      const res = await safeFetch(
        `http://hooks.test:${w.port}/deliver`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"ok":true}'), deadlineMs: 5000, maxBytes: 100 },
        { allowHosts: ['hooks.test'], resolve, proxy: settings },
      );
      expect(res.status).toBe(200);
      await expect(
        safeFetch(`https://hooks.test:${w.port}/tls`, { method: 'POST', body: Buffer.from('{}'), deadlineMs: 5000, maxBytes: 0 }, { allowHosts: ['hooks.test'], resolve, proxy: settings }),
      ).rejects.toThrow(SafeFetchError);
      // The plain one spoke HTTP through the relay, the TLS one a handshake (no request line).
      expect(socks.seen).toEqual([
        { target: `127.0.0.1:${w.port}`, by: 'ipv4', user: 'egress', firstLine: 'POST /deliver HTTP/1.1' },
        { target: `127.0.0.1:${w.port}`, by: 'ipv4', user: 'egress' },
      ]);
      expect(w.received).toEqual([{ method: 'POST', url: '/deliver', host: `hooks.test:${w.port}`, body: '{"ok":true}' }]);
    } finally {
      await socks.close();
    }
  });
});
