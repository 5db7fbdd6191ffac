/**
 * TLS through the outbound proxy, end to end: the fake model served over TLS (a certificate of the
 * test's own, test/fixtures/tls), reached through an HTTP proxy's CONNECT tunnel and through a
 * SOCKS5 relay, by the openai SDK (node agents) and by undici's dispatcher (the platforms'
 * downloads). The certificate is checked: trusted through NODE_EXTRA_CA_CERTS, as an operator
 * trusts a TLS-inspecting proxy's authority, and refused without it. Each case runs in a process
 * of its own (./tls-child.ts), since Node reads that variable only as a process starts.
 */
import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../bench/bot-process.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { startFakeProxy, type FakeProxy } from '../fakes/proxy.js';
import { startFakeSocks, type FakeSocks } from '../fakes/socks.js';

const fixtures = join(root, 'test', 'fixtures', 'tls');
const ca = join(fixtures, 'localhost.pem');

let openai: FakeOpenAI;
let tls: Server;
let proxy: FakeProxy;
let socks: FakeSocks;
let origin: string;

beforeAll(async () => {
  openai = await startFakeOpenAI();
  const plain = Number(new URL(openai.baseURL).port);
  // TLS in front of the fake model, on the address `localhost` resolves to here.
  tls = createServer({ cert: readFileSync(ca), key: readFileSync(join(fixtures, 'localhost-key.pem')) }, (socket) => {
    const upstream = connect(plain, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  const { address } = await lookup('localhost');
  await new Promise<void>((r) => tls.listen(0, address, () => r()));
  origin = `https://localhost:${(tls.address() as AddressInfo).port}`;
  proxy = await startFakeProxy({ credentials: 'egress:s3cret-pass' });
  socks = await startFakeSocks({ credentials: 'egress:s3cret-pass' });
});

afterAll(async () => {
  await socks?.close();
  await proxy?.close();
  await new Promise((r) => (tls ? tls.close(r) : r(undefined)));
  await openai?.close();
});

/** What ./tls-child.ts printed, run with `env` on top of this process's environment. */
function child(env: Record<string, string>): Promise<Record<string, string>> {
  const base = { ...process.env };
  for (const k of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy', 'NODE_EXTRA_CA_CERTS']) delete base[k];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'test', 'core', 'tls-child.ts'), `${origin}/v1`, `${origin}/v1/models`, openai.apiKey], {
      cwd: root,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`tls-child exited ${code}: ${err}`))));
  });
}

describe('TLS through the outbound proxy', () => {
  it("tunnels the model and a download through an HTTP proxy's CONNECT, the certificate checked", async () => {
    const before = openai.jsonRequests.length;
    const out = await child({ HTTPS_PROXY: proxy.url.replace('http://', 'http://egress:s3cret-pass@'), NODE_EXTRA_CA_CERTS: ca });
    expect(out).toEqual({ model: expect.any(String), file: expect.stringMatching(/^401 /) });
    expect(openai.jsonRequests.length).toBe(before + 1); // the model answered over TLS
    const host = new URL(origin).host;
    expect(proxy.seen.filter((r) => r.target === host).map((r) => `${r.method} ${Boolean(r.auth)}`)).toEqual(['CONNECT true', 'CONNECT true']);
  }, 30_000);

  it('relays the model and a download through a SOCKS5 proxy, the certificate checked', async () => {
    const before = socks.seen.length;
    const out = await child({ ALL_PROXY: socks.url, NODE_EXTRA_CA_CERTS: ca });
    expect(out).toEqual({ model: expect.any(String), file: expect.stringMatching(/^401 /) });
    expect(socks.seen.slice(before).map((r) => `${r.target} ${r.user}`)).toEqual([`${new URL(origin).host} egress`, `${new URL(origin).host} egress`]);
  }, 30_000);

  it('refuses the model server\'s certificate when nothing says to trust it', async () => {
    const out = await child({ HTTPS_PROXY: proxy.url.replace('http://', 'http://egress:s3cret-pass@') });
    expect(out.modelError).toMatch(/certificate/);
    expect(out.fileError).toMatch(/certificate/);
  }, 30_000);
});
