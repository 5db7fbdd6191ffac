import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type OpenAI from 'openai';

/**
 * The HTTP bench's proxy floors: the least any HTTP service in front of the model adds. Each has
 * one route, `POST /chat {message, stream}`, that makes the same SDK call and answers with the
 * text as JSON, or each delta as an SSE event — no key, store or context. One is a fastify route
 * (the framework charbridge uses); the other is bare `node:http`, with nothing between the socket
 * and the SDK but JSON.parse, so what it adds over the bare SDK call is the hop itself.
 */
export interface Proxy {
  url: string;
  close(): Promise<void>;
}

type Body = { message: string; stream: boolean };
type Answer = { json(body: unknown): void; event(data: string): void; end(): void };

const ask = (sdk: OpenAI, message: string) => sdk.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: message }], stream: true });

/** The whole answer's text. */
async function collect(sdk: OpenAI, message: string): Promise<string> {
  let text = '';
  for await (const c of await ask(sdk, message)) text += c.choices[0]?.delta?.content ?? '';
  return text;
}

/** The route's work, shared by both servers: the SDK call, then the answer in the asked form. */
async function relay(sdk: OpenAI, body: Body, answer: Answer): Promise<void> {
  if (!body.stream) return answer.json({ text: await collect(sdk, body.message) });
  for await (const c of await ask(sdk, body.message)) {
    const delta = c.choices[0]?.delta?.content;
    if (delta) answer.event(JSON.stringify({ type: 'content', content: delta }));
  }
  answer.event('{"type":"end"}');
  answer.end();
}

const sseHead = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function rawAnswer(res: ServerResponse): Answer {
  let started = false;
  const start = () => {
    if (!started) res.writeHead(200, sseHead);
    started = true;
  };
  return {
    json: (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
    event: (data) => {
      start();
      res.write(`data: ${data}\n\n`);
    },
    end: () => res.end(),
  };
}

/** The fastify proxy floor. */
export async function startFastifyProxy(sdk: OpenAI): Promise<Proxy> {
  const app: FastifyInstance = Fastify();
  app.post('/chat', async (req, reply) => {
    const body = req.body as Body;
    // JSON goes through fastify's own reply path, as charbridge's does; SSE is written raw, as charbridge's is.
    if (!body.stream) return { text: await collect(sdk, body.message) };
    reply.hijack();
    await relay(sdk, body, rawAnswer(reply.raw));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

/** The bare node:http proxy floor. */
export async function startRawProxy(sdk: OpenAI): Promise<Proxy> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      relay(sdk, JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body, rawAnswer(res)).catch((err: unknown) => {
        res.destroy(err as Error);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
