/**
 * A fake OpenAI Chat Completions server for tests: a real `node:http` server on
 * 127.0.0.1 (port 0) that the real `openai` SDK talks to via `baseURL`, so tests
 * exercise the SDK's own HTTP, SSE parsing, retry and error mapping code paths.
 * See /work/shared/design/PLATFORM-FAKES.md ("OpenAI-compatible model").
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request to `/v1/chat/completions`, recorded so tests can assert on what the model saw. */
export interface RecordedChatRequest {
  /** Parsed JSON body, or `null` when the body was not valid JSON. */
  body: any;
  headers: Record<string, string | string[] | undefined>;
  /** `Date.now()` when the request arrived. */
  at: number;
  stream: boolean;
  /** HTTP status the fake answered with (200, 401, 429, …) — tells retries and rejections apart. */
  status: number;
}

/**
 * Produces the assistant's reply text from the request; may be async to simulate thinking. With
 * `chunkDelayMs`, this reply streams at its own pace instead of the server's.
 */
export type Responder = (req: { messages: any[]; model: string; body: any }) => string | { text: string; chunkDelayMs?: number } | Promise<string | { text: string; chunkDelayMs?: number }>;

/** Produces a JSON-mode (`response_format: json_object`) answer's text from the request. */
export type JsonResponder = (req: { messages: any[]; model: string; body: any }) => string | Promise<string>;

/**
 * Default JSON-mode answer, shaped as charbridge's memory extraction asks: every line of the
 * transcript spoken by a user (`[user] Name: text`) that says something about them ("my …",
 * "I am …", "I'm …", "I live …") becomes a fact, quoted as said; the summary names the lines' count.
 * Deterministic, so tests can predict what is remembered.
 */
export const factsResponder: JsonResponder = ({ messages }) => {
  const text = messages.map((m: any) => contentText(m?.content)).join('\n');
  const lines = text.split('\n').filter((l) => l.startsWith('[user] '));
  const facts = lines
    .map((l) => l.replace(/^\[user\] /, ''))
    .filter((l) => /\b(my|i am|i'm|i live)\b/i.test(l));
  return JSON.stringify({ facts, summary: lines.length ? `They exchanged ${lines.length} user messages.` : '' });
};

/** A deterministic embedding: words hashed into 64 buckets, normalised (similar texts are close). */
export function hashedEmbedding(text: string, dims = 64): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    v[(h >>> 0) % dims]! += 1;
  }
  const norm = Math.sqrt(v.reduce((n, x) => n + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

export interface FakeOpenAIOptions {
  /** Expected Bearer key, default 'test-key'; anything else gets an OpenAI-shaped 401. */
  apiKey?: string;
  /** Reply generator; default {@link echoResponder}. */
  responder?: Responder;
  /** Delay between stream chunks in ms, default 0. */
  chunkDelayMs?: number;
}

/**
 * Injected failure for {@link FakeOpenAI.failNext}. `retryAfterMs` sets `retry-after-ms` and
 * `retry-after` (whole seconds, rounded up); it is allowed on 5xx too so tests of retried
 * server errors need not wait for the SDK's default 0.5 s+ backoff.
 */
export type FakeFailure =
  | { status: 429; retryAfterMs?: number }
  | { status: 500 | 502 | 503; retryAfterMs?: number }
  /** The request refused for what it holds, as OpenAI's safety system refuses a prompt (never retried). */
  | { status: 400; retryAfterMs?: never }
  /** The model named is not one this account may use (never retried). */
  | { status: 404; retryAfterMs?: never };

export interface FakeOpenAI {
  /** 'http://127.0.0.1:PORT/v1' — pass as the SDK's `baseURL`. */
  baseURL: string;
  apiKey: string;
  /**
   * Every `/v1/chat/completions` request but JSON-mode ones, in arrival order (including rejected
   * and failed ones): the replies, so assertions on "the newest request" see a reply, never a
   * background extraction.
   */
  requests: RecordedChatRequest[];
  /** Every JSON-mode (`response_format: json_object`) request, in arrival order. */
  jsonRequests: RecordedChatRequest[];
  /** Every `/v1/embeddings` request body, in arrival order. */
  embeddingRequests: any[];
  /** Change the JSON-mode answer: a fixed string or a generator (default {@link factsResponder}). */
  respondJsonWith(r: JsonResponder | string): void;
  /** Change the reply: a fixed string or a generator. */
  respondWith(r: Responder | string): void;
  /** The next n authenticated, well-formed chat requests fail with an OpenAI-shaped error. */
  failNext(n: number, failure: FakeFailure): void;
  /** Every later response waits `ms` before sending any byte (headers included); 0 turns it off. */
  slowFirstToken(ms: number): void;
  /** Streams destroy the socket after N content chunks (no finish chunk, no [DONE]); null turns it off. */
  breakStreamAfter(chunks: number | null): void;
  setChunkDelay(ms: number): void;
  /** Stops the server and destroys every socket, including parked/streaming ones. */
  close(): Promise<void>;
}

/** Text of a message's content: strings as-is; for part arrays, joined text parts plus ` [images: N]`. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const text = content.filter((p) => p?.type === 'text').map((p) => String(p.text ?? '')).join(' ');
  const images = content.filter((p) => p?.type === 'image_url').length;
  return images > 0 ? `${text} [images: ${images}]` : text;
}

/** Default responder: `Echo: <last user message>` — deterministic so tests can predict replies. */
export const echoResponder: Responder = ({ messages }) => {
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  return `Echo: ${contentText(lastUser?.content)}`;
};

/** Deterministic rough token estimate (ceil(chars / 4)). */
export function approxTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type, param: null, code } }));
}

/** Starts the fake; resolves once it is listening. */
export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const apiKey = opts.apiKey ?? 'test-key';
  let responder: Responder = opts.responder ?? echoResponder;
  let jsonResponder: JsonResponder = factsResponder;
  const jsonRequests: RecordedChatRequest[] = [];
  const embeddingRequests: any[] = [];
  let chunkDelayMs = opts.chunkDelayMs ?? 0;
  let firstTokenDelayMs = 0;
  let breakAfter: number | null = null;
  const failures: FakeFailure[] = [];
  const requests: RecordedChatRequest[] = [];
  let seq = 0;

  // Resolves after ms, or early when the client goes away, so close() never waits on timers.
  const wait = (ms: number, res: ServerResponse) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || res.destroyed) return resolve();
      const onClose = () => { clearTimeout(t); resolve(); };
      const t = setTimeout(() => { res.off('close', onClose); resolve(); }, ms);
      res.once('close', onClose);
    });

  const authorized = (req: IncomingMessage) => req.headers.authorization === `Bearer ${apiKey}`;
  const unauthorized = (res: ServerResponse) =>
    sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');

  async function chat(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    let body: any = null;
    try { body = JSON.parse(raw); } catch { /* recorded as null below */ }
    const rec: RecordedChatRequest = { body, headers: { ...req.headers }, at: Date.now(), stream: body?.stream === true, status: 200 };
    const jsonMode = body?.response_format?.type === 'json_object';
    (jsonMode ? jsonRequests : requests).push(rec);
    const fail = (status: number, ...args: [string, string, string | null, Record<string, string>?]) => {
      rec.status = status;
      sendError(res, status, ...args);
    };
    if (!authorized(req)) return fail(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    if (body === null || typeof body !== 'object') return fail(400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
    if (!Array.isArray(body.messages) || typeof body.model !== 'string') {
      return fail(400, "Missing required parameter: 'model' or 'messages'.", 'invalid_request_error', null);
    }
    const failure = jsonMode ? undefined : failures.shift();
    if (failure) {
      const headers: Record<string, string> = {};
      if (failure.retryAfterMs !== undefined) {
        headers['retry-after-ms'] = String(failure.retryAfterMs);
        headers['retry-after'] = String(Math.ceil(failure.retryAfterMs / 1000));
      }
      if (failure.status === 400) {
        return fail(400, 'Your request was rejected as a result of our safety system.', 'invalid_request_error', 'content_policy_violation');
      }
      if (failure.status === 404) {
        return fail(404, `The model \`${body.model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
      }
      return failure.status === 429
        ? fail(429, 'Rate limit reached for requests.', 'requests', 'rate_limit_exceeded', headers)
        : fail(failure.status, 'The server had an error while processing your request.', 'server_error', null, headers);
    }
    let content: string;
    let pace = chunkDelayMs;
    try {
      const r = await (jsonMode ? jsonResponder : responder)({ messages: body.messages, model: body.model, body });
      content = typeof r === 'string' ? r : r.text;
      if (typeof r !== 'string' && r.chunkDelayMs !== undefined) pace = r.chunkDelayMs;
    } catch (err) {
      return fail(500, `Fake responder failed: ${(err as Error).message}`, 'server_error', null);
    }
    await wait(firstTokenDelayMs, res);
    if (res.destroyed) return;

    const id = `chatcmpl-fake${++seq}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = approxTokens(JSON.stringify(body.messages));
    const completionTokens = approxTokens(content);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const headers = { 'x-request-id': `req_fake${seq}` };

    if (!rec.stream) {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({
        id, object: 'chat.completion', created, model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage,
      }));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
    // Resolves once the bytes reach the socket, so breakStreamAfter destroys after them, not before.
    const send = (data: unknown) =>
      new Promise<void>((resolve) => {
        if (res.destroyed) return resolve();
        res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`, () => resolve());
      });
    const chunk = (delta: object, finish_reason: string | null) =>
      ({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason, logprobs: null }] });
    await send(chunk({ role: 'assistant', content: '' }, null));
    const pieces = content.match(/\s*\S+\s*/g) ?? (content ? [content] : []);
    let sent = 0;
    const broken = () => breakAfter !== null && sent >= breakAfter;
    for (const piece of pieces) {
      if (broken()) break;
      if (sent > 0) await wait(pace, res);
      if (res.destroyed) return;
      await send(chunk({ content: piece }, null));
      sent++;
    }
    if (broken()) { res.destroy(); return; }
    await send(chunk({}, 'stop'));
    if (body.stream_options?.include_usage === true) {
      await send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage });
    }
    await send('[DONE]');
    res.end();
  }

  const server = createServer((req, res) => {
    req.on('error', () => {}); // client aborts surface as ECONNRESET; nothing to do
    res.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      if (!authorized(req)) return unauthorized(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model', created: 1700000000, owned_by: 'fake' }] }));
      return;
    }
    if (req.method === 'POST' && path === '/v1/embeddings') {
      if (!authorized(req)) return unauthorized(res);
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        let body: any = null;
        try { body = JSON.parse(Buffer.concat(parts).toString('utf8')); } catch { /* answered below */ }
        if (!body || typeof body.model !== 'string' || body.input === undefined) {
          return sendError(res, 400, "Missing required parameter: 'model' or 'input'.", 'invalid_request_error', null);
        }
        embeddingRequests.push(body);
        const inputs: string[] = Array.isArray(body.input) ? body.input : [body.input];
        const tokens = inputs.reduce((n, t) => n + approxTokens(String(t)), 0);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          object: 'list', model: body.model,
          data: inputs.map((t, index) => ({ object: 'embedding', index, embedding: hashedEmbedding(String(t)) })),
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        }));
      });
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendError(res, 404, `Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url');
    }
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      chat(req, res, Buffer.concat(parts).toString('utf8')).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, String(err), 'server_error', null);
        else res.destroy();
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    jsonRequests,
    embeddingRequests,
    respondWith(r) { responder = typeof r === 'string' ? () => r : r; },
    respondJsonWith(r) { jsonResponder = typeof r === 'string' ? () => r : r; },
    failNext(n, failure) { for (let i = 0; i < n; i++) failures.push(failure); },
    slowFirstToken(ms) { firstTokenDelayMs = ms; },
    breakStreamAfter(chunks) { breakAfter = chunks; },
    setChunkDelay(ms) { chunkDelayMs = ms; },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
