/**
 * The Socket Mode half of the fake Slack: a WebSocket endpoint on the fake's HTTP server.
 * apps.connections.open hands out one-time `ws://…/socket?ticket=…` URLs; a connection gets
 * `hello`, then envelopes the test pushes, and the client acks each with `{envelope_id, payload}`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

/** An ack the client sent back; `payload` is what `ack(…)` was given (`{}` for a bare ack). */
export interface SocketAck {
  envelope_id: string;
  payload?: unknown;
}

/** Delivery details Slack puts on an envelope besides the payload. */
export interface EnvelopeOptions {
  /** Slack's redelivery counter (`retry_attempt`); Bolt exposes it as `context.retryNum`. */
  retryNum?: number;
  retryReason?: string;
}

export class FakeSocketMode {
  readonly acks: SocketAck[] = [];
  /** Envelope ids pushed so far, to tell when every one has been acked. */
  readonly sent = new Set<string>();
  /** Every connection ever accepted: a reconnect shows up as this growing. */
  connects = 0;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly open = new Set<WebSocket>();

  constructor(
    private readonly appId: string,
    private readonly origin: () => string,
  ) {}

  /** Connections currently open (the client keeps exactly one unless it is reconnecting). */
  get connections(): number {
    return this.open.size;
  }

  /** A fresh one-time URL, as apps.connections.open returns (`wss://wss-primary.slack.com/link/?ticket=…`). */
  issueUrl(): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${this.origin().replace(/^http/, 'ws')}/socket?ticket=${ticket}&app_id=${this.appId}`;
  }

  /** `upgrade` handler for the shared HTTP server; unknown paths or tickets are refused like an expired link. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/socket' || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    this.connects += 1;
    this.open.add(ws);
    ws.on('close', () => this.open.delete(ws));
    ws.on('error', () => this.open.delete(ws));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      try {
        const msg = JSON.parse(String(data)) as { envelope_id?: unknown; payload?: unknown };
        if (typeof msg.envelope_id === 'string') {
          this.acks.push({ envelope_id: msg.envelope_id, ...(msg.payload !== undefined ? { payload: msg.payload } : {}) });
        }
      } catch {
        // Slack ignores frames it cannot parse; so do we
      }
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.open.size,
        debug_info: { host: 'applink-fake', build_number: 1, approximate_connection_time: 18_060 },
        connection_info: { app_id: this.appId },
      }),
    );
  }

  /**
   * Push an envelope to the newest open connection (Slack picks one of the app's connections).
   * Returns the `envelope_id` to match the ack against. Throws when nothing is connected,
   * because a silently dropped event would only surface later as a confusing timeout.
   */
  send(type: 'events_api' | 'slash_commands' | 'interactive', payload: unknown, opts: EnvelopeOptions = {}): string {
    const target = [...this.open].reverse().find((ws) => ws.readyState === WebSocket.OPEN);
    if (target === undefined) throw new Error('fake Slack: no Socket Mode connection is open');
    const envelope_id = randomUUID();
    const envelope: Record<string, unknown> = {
      envelope_id,
      payload,
      type,
      accepts_response_payload: type !== 'events_api',
    };
    if (type === 'events_api') {
      envelope.retry_attempt = opts.retryNum ?? 0;
      envelope.retry_reason = opts.retryReason ?? (opts.retryNum ? 'timeout' : '');
    }
    target.send(JSON.stringify(envelope));
    this.sent.add(envelope_id);
    return envelope_id;
  }

  /** Ask every client to reconnect, as Slack does before recycling a host (`refresh_requested`) or on `warning`. */
  disconnectAll(reason = 'refresh_requested'): void {
    for (const ws of this.open) ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake' } }));
  }

  /**
   * Close politely first (close frame, so the client's 30 s close-handshake timer is cleared),
   * then terminate whatever is left after a short grace period so nothing keeps the process alive.
   */
  async close(graceMs = 200): Promise<void> {
    const pending = [...this.open].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          if (ws.readyState === WebSocket.OPEN) ws.close(1001, 'server shutting down');
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const ws of this.wss.clients) ws.terminate();
    for (const ws of this.open) ws.terminate();
    this.open.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
