import type { FastifyReply } from 'fastify';

/** How often an idle stream sends a comment line, so proxies do not cut a slow model's stream. */
const HEARTBEAT_MS = 15_000;

/**
 * A Server-Sent Events response over a hijacked fastify reply: `data: <json>\n\n` per event.
 * Writes after the client has gone are dropped quietly, so the producer (the engine) can run
 * to the end and persist the reply whatever the client does. Every dialect's stream uses this.
 */
export class SseWriter {
  private gone = false;
  private finished = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private reply: FastifyReply, extraHeaders: Record<string, string> = {}) {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses by default; this header turns that off for the stream.
      'x-accel-buffering': 'no',
      ...extraHeaders,
    });
    res.flushHeaders();
    res.on('close', () => {
      if (!this.finished) this.gone = true;
      clearInterval(this.heartbeat);
    });
    res.on('error', () => {
      this.gone = true;
    });
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** True once the client disconnected before the stream ended. */
  get clientGone(): boolean {
    return this.gone;
  }

  /** Send one `data:` event with a JSON payload (or a raw string such as `[DONE]`); false if the client is gone. */
  send(data: unknown): boolean {
    return this.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  }

  /** Finish the response. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.heartbeat);
    if (!this.gone && !this.reply.raw.writableEnded) this.reply.raw.end();
  }

  private write(chunk: string): boolean {
    const res = this.reply.raw;
    if (this.gone || this.finished || res.writableEnded || res.destroyed) return false;
    res.write(chunk);
    // Node corks the socket on a write and uncorks it on the next tick, which comes only once the
    // running chain of promises is done: with SQLite (synchronous) a delta would wait until the
    // whole reply was stored, the start event until the model was called. It leaves now instead.
    if (res.socket?.writableCorked) res.socket.uncork();
    return true;
  }
}

/** True when the client asked for an event stream (`Accept: text/event-stream`). */
export function wantsEventStream(accept: string | string[] | undefined): boolean {
  const value = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  return /(^|,)\s*text\/event-stream\b/i.test(value);
}
