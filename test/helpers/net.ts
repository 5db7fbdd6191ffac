import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Resolve, StartTimer } from '../../src/services/safe-fetch.js';

/** A request a {@link TestServer} received, body read in full. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * An HTTP server on loopback that records every request and answers through `handle`. A handler
 * that never ends its response holds the request open until {@link TestServer.close}.
 */
export class TestServer {
  readonly received: Received[] = [];
  /** Requests being handled right now, and the most there ever were. */
  open = 0;
  maxOpen = 0;
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private readonly waiters: Array<{ n: number; resolve: () => void }> = [];
  private readonly cleanups: Array<() => void> = [];
  port = 0;
  host = '127.0.0.1';

  constructor(private handle: (req: Received, res: ServerResponse, srv: TestServer) => void) {}

  /** Listen on `host`:`port` (port 0: the OS picks one). */
  async start(host = '127.0.0.1', port = 0): Promise<this> {
    this.host = host;
    this.server = createServer((req, res) => {
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      res.on('close', () => this.open--);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.received.push(r);
        for (const w of this.waiters.filter((x) => this.received.length >= x.n)) w.resolve();
        this.handle(r, res, this);
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** `http://host:port` + path. */
  url(path = '/', host = this.host): string {
    return `http://${host}:${this.port}${path}`;
  }

  /** Resolves once `n` requests have arrived in total. */
  requests(n = 1): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Run `fn` when the server closes (stop a trickle). */
  onClose(fn: () => void): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.cleanups) fn();
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** A resolver that answers from a table (a function of the call count for rebinding answers) and counts calls. */
export function pinnedResolver(table: Record<string, string[] | ((call: number) => string[])>): Resolve & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const resolve = async (host: string) => {
    const n = (calls.get(host) ?? 0) + 1;
    calls.set(host, n);
    const answer = table[host];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return typeof answer === 'function' ? answer(n) : answer;
  };
  return Object.assign(resolve, { calls });
}

/** Deadline timers a test fires by hand, so a deadline is proven without waiting for it. */
export class ManualTimers {
  readonly pending: Array<{ ms: number; fire: () => void }> = [];
  readonly start: StartTimer = (ms, fire) => {
    const t = { ms, fire };
    this.pending.push(t);
    return () => {
      const i = this.pending.indexOf(t);
      if (i >= 0) this.pending.splice(i, 1);
    };
  };

  /** Fire every pending timer; returns their durations. */
  fireAll(): number[] {
    const due = this.pending.splice(0);
    for (const t of due) t.fire();
    return due.map((t) => t.ms);
  }
}

/** Answer with a status line written one byte at a time, for ever: a socket that is never idle. */
export function trickle(res: ServerResponse, srv: TestServer, everyMs = 20): void {
  const line = 'HTTP/1.1 200 OK\r\nX-Slow: ' + 'x'.repeat(10_000);
  let i = 0;
  const timer = setInterval(() => {
    if (res.socket?.writable) res.socket.write(line[i++ % line.length]!);
  }, everyMs);
  srv.onClose(() => clearInterval(timer));
  res.on('close', () => clearInterval(timer));
}

/** A 1×1 PNG. */
export const TINY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

/** An image host on loopback: every path is {@link TINY_PNG}. */
export function imageServer(): Promise<TestServer> {
  return new TestServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(TINY_PNG)).start();
}
