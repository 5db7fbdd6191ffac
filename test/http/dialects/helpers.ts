/**
 * The chat APIs over real HTTP: the real app on a loopback port, `fetch` as the client
 * (Bearer auth, as their documentation's examples send it), eventsource-parser as the SSE reader, and
 * the real openai SDK against the fake OpenAI server.
 */
import type { AddressInfo } from 'node:net';
import { createParser } from 'eventsource-parser';
import { ManualClock } from '../../../src/core/clock.js';
import { startApi, type ApiHarness } from '../helpers.js';

export type Json = Record<string, any>;

export interface LiveApi extends ApiHarness {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** The app's clock: every stored timestamp reads it, tests move it by hand. */
  clock: ManualClock;
  /** A request as these APIs' clients send it: `Authorization: Bearer <key>` (or none when key is null) and a JSON body. */
  send(method: string, path: string, o?: { key?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  /** send() and the parsed JSON body, with the status. */
  json(method: string, path: string, o?: { key?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: Json; headers: Headers }>;
}

/** Start the app listening on loopback; `env` overrides the test configuration. */
export async function startLive(env: Record<string, string> = {}): Promise<LiveApi> {
  const clock = new ManualClock();
  const h = await startApi({ env, clock });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const send: LiveApi['send'] = (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers };
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    return fetch(`${base}${path}`, { method, headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}) });
  };
  const json: LiveApi['json'] = async (method, path, o) => {
    const res = await send(method, path, o);
    return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
  };
  return { ...h, clock, base, send, json };
}

/** Every `data:` payload of an SSE response, as sent (strings; JSON is left to the caller). */
export async function readSse(res: Response): Promise<string[]> {
  const data: string[] = [];
  const parser = createParser({ onEvent: (e) => data.push(e.data) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  return data;
}

/** readSse with every payload parsed as JSON. */
export async function readJsonSse(res: Response): Promise<Json[]> {
  return (await readSse(res)).map((d) => JSON.parse(d) as Json);
}

/** The usage the fake OpenAI server reports for its latest request (ceil(chars / 4) each way). */
export function fakeUsage(h: LiveApi, reply: string): { promptTokens: number; completionTokens: number; totalTokens: number } {
  const promptTokens = Math.ceil(JSON.stringify(h.fake.requests.at(-1)?.body.messages).length / 4);
  const completionTokens = Math.ceil(reply.length / 4);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}
