/**
 * The HTTP bench's client, run as its own process (see ./http.ts): it reads each response as
 * soon as bytes arrive, as a real client would, instead of when the server's process next
 * yields its event loop. Reads its settings as JSON from argv[2]; prints the timings (ms) as one
 * JSON line on stdout.
 */
import OpenAI from 'openai';
import { createParser } from 'eventsource-parser';

export interface HttpClientSettings {
  /** charbridge's base URL and a tenant key. */
  base: string;
  key: string;
  /** The proxy floors' base URLs: fastify, and bare node:http. */
  proxyUrl: string;
  rawProxyUrl: string;
  /** The fake model, for the bare-SDK floor. */
  modelBaseURL: string;
  modelApiKey: string;
  requests: number;
  sessions: number;
}

export interface HttpClientTimings {
  floorFull: number[];
  floorFirst: number[];
  sync: number[];
  ttft: number[];
  streamFull: number[];
  proxySync: number[];
  proxyFirst: number[];
  rawSync: number[];
  rawFirst: number[];
}

async function main(s: HttpClientSettings): Promise<HttpClientTimings> {
  const t: HttpClientTimings = { floorFull: [], floorFirst: [], sync: [], ttft: [], streamFull: [], proxySync: [], proxyFirst: [], rawSync: [], rawFirst: [] };
  const sdk = new OpenAI({ apiKey: s.modelApiKey, baseURL: s.modelBaseURL, maxRetries: 0 });
  const sessions: Array<string | undefined> = new Array(s.sessions).fill(undefined);
  const slot = (i: number) => ((i % s.sessions) + s.sessions) % s.sessions;
  const post = (body: object, accept = 'application/json') =>
    fetch(`${s.base}/api/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': s.key, accept }, body: JSON.stringify(body) });

  const proxyCall = async (i: number, stream: boolean, raw = false) => {
    const [url, syncs, firsts] = raw ? [s.rawProxyUrl, t.rawSync, t.rawFirst] : [s.proxyUrl, t.proxySync, t.proxyFirst];
    const start = performance.now();
    const res = await fetch(`${url}/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: `hello ${i}`, stream }) });
    if (!stream) {
      await res.json();
      if (i >= 0) syncs.push(performance.now() - start);
      return;
    }
    let first: number | undefined;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) if (first === undefined && chunk.length) first = performance.now() - start;
    if (i >= 0 && first !== undefined) firsts.push(first);
  };
  const floorCall = async (i: number) => {
    const start = performance.now();
    const stream = await sdk.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hello' }], stream: true });
    let first: number | undefined;
    for await (const c of stream) if (first === undefined && c.choices[0]?.delta?.content) first = performance.now() - start;
    if (i >= 0 && first !== undefined) {
      t.floorFirst.push(first);
      t.floorFull.push(performance.now() - start);
    }
  };
  const syncCall = async (i: number) => {
    const start = performance.now();
    const sid = sessions[slot(i)];
    const res = await post({ characterId: 'aria', message: `hello ${i}`, ...(sid ? { sessionId: sid } : {}) });
    const body = (await res.json()) as { sessionId?: string };
    if (res.status !== 200 || !body.sessionId) throw new Error(`sync chat failed: ${res.status} ${JSON.stringify(body)}`);
    if (i >= 0) t.sync.push(performance.now() - start);
    sessions[slot(i)] = body.sessionId;
  };
  const streamCall = async (i: number) => {
    const start = performance.now();
    const sid = sessions[slot(i)];
    const res = await post({ characterId: 'aria', message: `stream ${i}`, mode: 'stream', ...(sid ? { sessionId: sid } : {}) }, 'text/event-stream');
    let first: number | undefined;
    let ended = false;
    const parser = createParser({
      onEvent: (e) => {
        const data = JSON.parse(e.data) as { type: string };
        if (data.type === 'content' && first === undefined) first = performance.now() - start;
        if (data.type === 'end') ended = true;
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    if (!ended || first === undefined) throw new Error('stream did not finish');
    if (i >= 0) {
      t.ttft.push(first);
      t.streamFull.push(performance.now() - start);
    }
  };
  // Interleaved, so the floors and the API see the same moments of a noisy machine and their
  // ratios compare like with like (phases run one after another drifted apart by a whole ms).
  for (let i = -5; i < s.requests; i++) {
    await floorCall(i);
    await proxyCall(i, false);
    await proxyCall(i, false, true);
    await syncCall(i);
    await floorCall(i);
    await proxyCall(i, true);
    await proxyCall(i, true, true);
    await streamCall(i);
  }
  return t;
}

main(JSON.parse(process.argv[2] ?? '{}') as HttpClientSettings).then(
  (t) => process.stdout.write(`${JSON.stringify(t)}\n`),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
