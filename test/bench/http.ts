import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { createParser } from 'eventsource-parser';
import { percentile, ms, ratio } from './stats.js';
import { startApi } from '../http/helpers.js';

/**
 * The HTTP API's cost per chat over real HTTP (fetch → fastify → chat service → engine → the
 * fake model through the openai SDK) against the floor of calling the same fake model with the
 * bare SDK, in the same run: sync round trip vs a whole SDK stream, and SSE time to first token
 * vs the SDK's first delta. A second floor is the least any HTTP service in front of the model
 * adds: a bare fastify route that calls the same SDK and answers (JSON, or SSE deltas), with no
 * key, store or context — so the figures split into what one HTTP hop costs and what charbridge's
 * own work costs. The client runs in the same process: a response is read only once
 * the server yields the event loop, so with SQLite the time to first token includes storing the
 * reply (an external client sees the start event and the first deltas sooner).
 */
export async function benchHttp(): Promise<Record<string, string | number>> {
  const h = await startApi({ env: { RATE_LIMIT_API_KEY_PER_MIN: '1000000' } });
  const out: Record<string, string | number> = {};
  let proxy: { url: string; close: () => Promise<void> } | undefined;
  try {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const { key } = await h.newKey({ name: 'bench' });
    h.fake.respondWith('A short reply of about ten words for the benchmark run.');
    const sdk = new OpenAI({ apiKey: h.fake.apiKey, baseURL: h.fake.baseURL, maxRetries: 0 });
    proxy = await startProxy(sdk);
    const proxyUrl = proxy.url;
    const N = 200;
    const SESSIONS = 20;
    const sessions: Array<string | undefined> = new Array(SESSIONS).fill(undefined);
    const post = (body: object, accept = 'application/json') =>
      fetch(`${base}/api/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key, accept }, body: JSON.stringify(body) });
    const session = (i: number) => sessions[((i % SESSIONS) + SESSIONS) % SESSIONS];

    const floorFull: number[] = [];
    const floorFirst: number[] = [];
    const sync: number[] = [];
    const ttft: number[] = [];
    const streamFull: number[] = [];
    const proxySync: number[] = [];
    const proxyFirst: number[] = [];
    const proxyCall = async (i: number, stream: boolean) => {
      const t = performance.now();
      const res = await fetch(`${proxyUrl}/chat`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ message: `hello ${i}`, stream }) });
      if (!stream) {
        await res.json();
        if (i >= 0) proxySync.push(performance.now() - t);
        return;
      }
      let first: number | undefined;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) if (first === undefined && chunk.length) first = performance.now() - t;
      if (i >= 0 && first !== undefined) proxyFirst.push(first);
    };
    const floorCall = async (i: number) => {
      const t = performance.now();
      const s = await sdk.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hello' }], stream: true });
      let first: number | undefined;
      for await (const c of s) if (first === undefined && c.choices[0]?.delta?.content) first = performance.now() - t;
      if (i >= 0 && first !== undefined) {
        floorFirst.push(first);
        floorFull.push(performance.now() - t);
      }
    };
    const syncCall = async (i: number) => {
      const t = performance.now();
      const sid = session(i);
      const res = await post({ characterId: 'aria', message: `hello ${i}`, ...(sid ? { sessionId: sid } : {}) });
      const body = (await res.json()) as { sessionId?: string };
      if (res.status !== 200 || !body.sessionId) throw new Error(`sync chat failed: ${res.status}`);
      if (i >= 0) sync.push(performance.now() - t);
      sessions[((i % SESSIONS) + SESSIONS) % SESSIONS] = body.sessionId;
    };
    const streamCall = async (i: number) => {
      const t = performance.now();
      const sid = session(i);
      const res = await post({ characterId: 'aria', message: `stream ${i}`, mode: 'stream', ...(sid ? { sessionId: sid } : {}) }, 'text/event-stream');
      let first: number | undefined;
      let ended = false;
      const parser = createParser({
        onEvent: (e) => {
          const data = JSON.parse(e.data) as { type: string };
          if (data.type === 'content' && first === undefined) first = performance.now() - t;
          if (data.type === 'end') ended = true;
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      if (!ended || first === undefined) throw new Error('stream did not finish');
      if (i >= 0) {
        ttft.push(first);
        streamFull.push(performance.now() - t);
      }
    };
    // Interleaved, so the floor and the API see the same moments of a noisy machine and their
    // ratios compare like with like (phases run one after another drifted apart by a whole ms).
    for (let i = -5; i < N; i++) {
      await floorCall(i);
      await proxyCall(i, false);
      await syncCall(i);
      await floorCall(i);
      await proxyCall(i, true);
      await streamCall(i);
    }

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
    out['samples per figure'] = `${N} (floors ${2 * N}), interleaved`;
  } finally {
    await proxy?.close();
    await h.close();
  }
  return out;
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
