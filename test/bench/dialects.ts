import type { AddressInfo } from 'node:net';
import { createParser } from 'eventsource-parser';
import { percentile, ms, ratio, timeEach } from './stats.js';
import { startApi } from '../http/helpers.js';

/**
 * What a chat API dialect adds on top of v1: each dialect's sync round trip and SSE time to first
 * token (first text delta) over real HTTP, against v1's own figures in the same run (the floor). The dialects are
 * thin envelopes over the same chat service, so the ratios should sit near 1×.
 */
export async function benchDialects(): Promise<Record<string, string | number>> {
  const h = await startApi({ env: { RATE_LIMIT_API_KEY_PER_MIN: '1000000' } });
  const out: Record<string, string | number> = {};
  try {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const { key } = await h.newKey({ name: 'bench' });
    h.fake.respondWith('A short reply of about ten words for the benchmark run.');
    const N = 200;
    const SESSIONS = 20;
    const post = (path: string, body: object) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });

    /** Each dialect: how to send message i (continuing one of SESSIONS conversations) and where its conversation id is. */
    type Dialect = {
      path: string;
      stream: string;
      body(i: number, conv: string | undefined, stream: boolean): object;
      convOf(json: any): string;
      /** Is this `data:` payload a text delta (not start/done)? */
      isContent(data: string): boolean;
    };
    const dialects: Record<string, Dialect> = {
      'v1 (floor)': {
        path: '/api/v1/chat',
        stream: '/api/v1/chat',
        body: (i, conv, stream) => ({ characterId: 'aria', message: `hello ${i}`, ...(conv ? { sessionId: conv } : {}), ...(stream ? { mode: 'stream' } : {}) }),
        convOf: (j) => j.sessionId,
        isContent: (data) => data.startsWith('{"type":"content"'),
      },
      'bot chat API': {
        path: '/api/v1/chat/aria/message',
        stream: '/api/v1/chat/aria/stream',
        body: (i, conv) => ({ message: `hello ${i}`, ...(conv ? { conversationId: conv } : {}) }),
        convOf: (j) => j.data.conversationId,
        isContent: (data) => data.startsWith('{"type":"delta"'),
      },
      'user/group chat API': {
        path: '/api/chat',
        stream: '/api/chat/stream',
        body: (i) => ({ message: `hello ${i}`, userId: `u${((i % SESSIONS) + SESSIONS) % SESSIONS}` }),
        convOf: (j) => j.data.conversationId,
        isContent: (data) => data.startsWith('{"type":"content"'),
      },
      'agent chat API': {
        path: '/v1/api/chat/aria',
        stream: '/v1/api/chat/aria',
        body: (i, conv, stream) => ({ message: `hello ${i}`, ...(conv ? { conversationId: conv } : {}), ...(stream ? { stream: true } : {}) }),
        convOf: (j) => j.data.conversationId,
        isContent: (data) => data.startsWith('{"chunk"'),
      },
    };

    // Interleaved (v1, 002, 003, 004, v1, …) so warm-up and drift weigh on every dialect alike.
    const names = Object.keys(dialects);
    const results: Record<string, { sync: number[]; ttft: number[] }> = Object.fromEntries(names.map((n) => [n, { sync: [], ttft: [] }]));
    const convs: Record<string, Array<string | undefined>> = Object.fromEntries(names.map((n) => [n, new Array(SESSIONS).fill(undefined)]));
    const slot = (i: number) => ((i % SESSIONS) + SESSIONS) % SESSIONS;
    await timeEach(N, async (i) => {
      for (const name of names) {
        const d = dialects[name]!;
        const t = performance.now();
        const res = await post(d.path, d.body(i, convs[name]![slot(i)], false));
        if (res.status !== 200) throw new Error(`${name} sync failed: ${res.status} ${await res.text()}`);
        convs[name]![slot(i)] = d.convOf(await res.json());
        if (i >= 0) results[name]!.sync.push(performance.now() - t);
      }
    });
    await timeEach(N, async (i) => {
      for (const name of names) {
        const d = dialects[name]!;
        const t = performance.now();
        const res = await post(d.stream, d.body(i, convs[name]![slot(i)], true));
        if (res.status !== 200) throw new Error(`${name} stream failed: ${res.status}`);
        let first: number | undefined;
        const parser = createParser({ onEvent: (e) => void (d.isContent(e.data) && (first ??= performance.now() - t)) });
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
        if (first === undefined) throw new Error(`${name} stream sent no content`);
        if (i >= 0) results[name]!.ttft.push(first);
      }
    });

    const floor = results['v1 (floor)']!;
    for (const [name, r] of Object.entries(results)) {
      out[`${name} sync p50 / p99`] = `${ms(percentile(r.sync, 50))} / ${ms(percentile(r.sync, 99))}`;
      out[`${name} SSE first token p50 / p99`] = `${ms(percentile(r.ttft, 50))} / ${ms(percentile(r.ttft, 99))}`;
      if (r !== floor) {
        out[`${name} / v1 (sync p50, SSE first token p50)`] = `${ratio(percentile(r.sync, 50), percentile(floor.sync, 50))}, ${ratio(percentile(r.ttft, 50), percentile(floor.ttft, 50))}`;
      }
    }
    out['samples per figure'] = N;
  } finally {
    await h.close();
  }
  return out;
}
