import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
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

/**
 * The HTTP API's cost per chat over real HTTP (fetch → fastify → chat service → engine on a
 * SQLite file → the fake model through the openai SDK) against the floor of calling the same fake
 * model with the bare SDK, in the same run: sync round trip vs a whole SDK stream, and SSE time to first token
 * vs the SDK's first delta. A second floor is the least any HTTP service in front of the model
 * adds: a bare fastify route that calls the same SDK and answers (JSON, or SSE deltas), with no
 * key, store or context — so the figures split into what one HTTP hop costs and what charbridge's
 * own work costs. The proxy calls the model over the same transport charbridge uses
 * (src/core/http-fetch.ts), which is cheaper than the SDK's default, so it stays the least a
 * service can add. The client (./http-client.ts) runs in its own process, so it reads each
 * response as its bytes arrive: in the server's process it could read the first token only once
 * the server yielded its event loop, after storing the reply.
 */
export async function benchHttp(): Promise<Record<string, string | number>> {
  // A database file, as `npm start` keeps one: in memory each commit would cost nothing.
  const dir = mkdtempSync(join(tmpdir(), 'charbridge-bench-http-'));
  const h = await startApi({ env: { RATE_LIMIT_API_KEY_PER_MIN: '1000000' }, dbPath: join(dir, 'charbridge.db') });
  const out: Record<string, string | number> = {};
  let proxy: { url: string; close: () => Promise<void> } | undefined;
  try {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const { key } = await h.newKey({ name: 'bench' });
    h.fake.respondWith('A short reply of about ten words for the benchmark run.');
    proxy = await startProxy(new OpenAI({ apiKey: h.fake.apiKey, baseURL: h.fake.baseURL, maxRetries: 0, fetch: keepAliveFetch as never }));
    const N = 200;
    const settings: HttpClientSettings = { base, key, proxyUrl: proxy.url, modelBaseURL: h.fake.baseURL, modelApiKey: h.fake.apiKey, requests: N, sessions: 20 };
    const { floorFull, floorFirst, sync, ttft, streamFull, proxySync, proxyFirst } = await runClient(settings);

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
    out['SSE whole stream p50 / p99'] = `${ms(percentile(streamFull, 50))} / ${ms(percentile(streamFull, 99))}`;
    out['charbridge database'] = 'a SQLite file, as npm start keeps one';
    out['samples per figure'] = `${N} (floors ${2 * N}), interleaved, from a client in its own process`;
  } finally {
    await proxy?.close();
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

/** The proxy floor: one route, the SDK call, the answer — as JSON, or each delta as an SSE event. */
async function startProxy(sdk: OpenAI): Promise<{ url: string; close: () => Promise<void> }> {
  const app: FastifyInstance = Fastify();
  app.post('/chat', async (req, reply) => {
    const body = req.body as { message: string; stream: boolean };
    const s = await sdk.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: body.message }], stream: true });
    if (!body.stream) {
      let text = '';
      for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
      return { text };
    }
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for await (const c of s) {
      const delta = c.choices[0]?.delta?.content;
      if (delta) reply.raw.write(`data: ${JSON.stringify({ type: 'content', content: delta })}\n\n`);
    }
    reply.raw.end('data: {"type":"end"}\n\n');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}
