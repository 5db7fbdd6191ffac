import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { keepAliveFetch } from '../../src/core/http-fetch.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, ms, ratio } from './stats.js';
import { startApi } from '../http/helpers.js';
import { root, runnable } from './bot-process.js';
import type { HttpClientSettings, HttpClientTimings } from './http-client.js';
import { startFastifyProxy, startRawProxy, type Proxy } from './http-proxies.js';

/**
 * The HTTP API's cost per chat over real HTTP (fetch → fastify → chat service → engine on a
 * SQLite file → the fake model through the openai SDK) against the floor of calling the same fake
 * model with the bare SDK, in the same run: sync round trip vs a whole SDK stream, and SSE time to first token
 * vs the SDK's first delta. Two more floors are the least any HTTP service in front of the model
 * adds (./http-proxies.ts): a bare fastify route, and a bare node:http server, each calling the
 * same SDK and answering (JSON, or SSE deltas) with no key, store or context — so the figures
 * split into what one HTTP hop costs and what charbridge's own work costs. The proxies call the
 * model over the same transport charbridge uses (src/core/http-fetch.ts), which is cheaper than
 * the SDK's default, so they stay the least a service can add. The client (./http-client.ts) runs in its own process, so it reads each
 * response as its bytes arrive: in the server's process it could read the first token only once
 * the server yielded its event loop, after storing the reply.
 */
export async function benchHttp(): Promise<Record<string, string | number>> {
  // A database file, as `npm start` keeps one: in memory each commit would cost nothing.
  const dir = mkdtempSync(join(tmpdir(), 'charbridge-bench-http-'));
  const h = await startApi({ env: { RATE_LIMIT_API_KEY_PER_MIN: '1000000' }, dbPath: join(dir, 'charbridge.db') });
  const out: Record<string, string | number> = {};
  const proxies: Proxy[] = [];
  try {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const { key } = await h.newKey({ name: 'bench' });
    h.fake.respondWith('A short reply of about ten words for the benchmark run.');
    const sdk = new OpenAI({ apiKey: h.fake.apiKey, baseURL: h.fake.baseURL, maxRetries: 0, fetch: keepAliveFetch as never });
    const proxy = await startFastifyProxy(sdk);
    proxies.push(proxy);
    const raw = await startRawProxy(sdk);
    proxies.push(raw);
    const N = 200;
    const settings: HttpClientSettings = { base, key, proxyUrl: proxy.url, rawProxyUrl: raw.url, modelBaseURL: h.fake.baseURL, modelApiKey: h.fake.apiKey, requests: N, sessions: 20 };
    const { floorFull, floorFirst, sync, ttft, streamFull, proxySync, proxyFirst, rawSync, rawFirst } = await runClient(settings);

    const f50 = percentile(floorFull, 50);
    const f99 = percentile(floorFull, 99);
    const s50 = percentile(sync, 50);
    const s99 = percentile(sync, 99);
    const ff50 = percentile(floorFirst, 50);
    const ff99 = percentile(floorFirst, 99);
    const t50 = percentile(ttft, 50);
    const t99 = percentile(ttft, 99);
    out['floor: bare SDK whole stream p50 / p99'] = `${ms(f50)} / ${ms(f99)}`;
    out['HTTP sync chat round trip p50 / p99'] = `${ms(s50)} / ${ms(s99)}`;
    out['HTTP sync / floor (p50, p99)'] = `${ratio(s50, f50)}, ${ratio(s99, f99)}`;
    out['floor: bare SDK first delta p50 / p99'] = `${ms(ff50)} / ${ms(ff99)}`;
    out['SSE time to first token p50 / p99'] = `${ms(t50)} / ${ms(t99)}`;
    out['SSE TTFT / floor (p50, p99)'] = `${ratio(t50, ff50)}, ${ratio(t99, ff99)}`;
    const p50 = percentile(proxySync, 50);
    const pf50 = percentile(proxyFirst, 50);
    out['proxy floor (bare fastify route → SDK): sync p50 / SSE first delta p50'] = `${ms(p50)} / ${ms(pf50)}`;
    out['proxy floor / floor (p50): sync, SSE first delta'] = `${ratio(p50, f50)}, ${ratio(pf50, ff50)}`;
    out['charbridge / proxy floor (p50): sync, SSE TTFT'] = `${ratio(s50, p50)}, ${ratio(t50, pf50)}`;
    const r50 = percentile(rawSync, 50);
    const rf50 = percentile(rawFirst, 50);
    out['bare node:http proxy floor: sync p50 / SSE first delta p50'] = `${ms(r50)} / ${ms(rf50)}`;
    out['bare node:http proxy floor / floor (p50): sync, SSE first delta'] = `${ratio(r50, f50)}, ${ratio(rf50, ff50)}`;
    out["charbridge's added time over the bare node:http proxy (p50): sync, SSE TTFT"] = `${ms(s50 - r50)}, ${ms(t50 - rf50)}`;
    out['SSE whole stream p50 / p99'] = `${ms(percentile(streamFull, 50))} / ${ms(percentile(streamFull, 99))}`;
    out['charbridge database'] = 'a SQLite file, as npm start keeps one';
    out['samples per figure'] = `${N} (floors ${2 * N}), interleaved, from a client in its own process`;
  } finally {
    for (const p of proxies) await p.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** Run ./http-client.ts as its own process and read its timings. */
function runClient(settings: HttpClientSettings): Promise<HttpClientTimings> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [runnable(join(root, 'test/bench/http-client.ts')), JSON.stringify(settings)], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`http bench client failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as HttpClientTimings);
    });
  });
}
