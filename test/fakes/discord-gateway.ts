/**
 * The gateway half of the fake Discord: a `ws` WebSocketServer on the REST server's port at
 * `/gateway`, speaking Discord gateway v10 with plain JSON text frames (discord.js only asks for
 * zlib-stream when the optional `zlib-sync` package is installed; it parses text frames either
 * way, so the fake never compresses).
 *
 * Modelled: HELLO → IDENTIFY → READY + one GUILD_CREATE per guild; heartbeats (op 1 → op 11);
 * sequence numbers and a per-session event buffer; RESUME (op 6) replaying every buffered event
 * after the client's `seq`, then RESUMED; events dispatched while the client is disconnected are
 * buffered and delivered on resume, as on Discord. Close codes: 4001 unknown opcode, 4002
 * decode error, 4003 not authenticated, 4004 bad token, 4005 identified twice, 4007 invalid
 * seq, 4013 invalid intents, 4014 disallowed (privileged, not enabled) intents. A client that
 * closes with 1000/1001 loses its session (a later RESUME gets op 9 `d:false`), again like Discord.
 * Sharding (discord-shards.ts): each session holds one shard; READY and GUILD_CREATE list only
 * its guilds, a guild's events reach only its shard's session and DMs only shard 0's; 4010
 * invalid shard, 4011 sharding required, and op 9 for an IDENTIFY over the bucket's rate.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { ALL_INTENTS, Intents, PRIVILEGED_INTENTS, type DiscordWorld } from './discord-world.js';
import { judgeShard, shardOf, type IdentifyLimiter, type ShardRules } from './discord-shards.js';

/** One gateway frame as the fake saw it; `dir` 'in' = from the client. Close events have op -1. */
export interface GatewayLogEntry {
  dir: 'in' | 'out';
  op: number;
  t?: string | null;
  s?: number | null;
  /** op 2/6: the client's payload (token included — it is a fake token). */
  d?: any;
  closeCode?: number;
  at: number;
}

export interface GatewaySession {
  id: string;
  intents: number;
  /** [shard_id, num_shards] from IDENTIFY ([0, 1] when absent). */
  shard: [number, number];
  seq: number;
  /** Every dispatch after READY (READY itself is never replayed), oldest first. */
  buffer: Array<{ s: number; t: string; d: any }>;
  socket: WebSocket | null;
}

export interface GatewayOptions {
  heartbeatIntervalMs: number;
  /** Privileged intents switched on "in the developer portal"; requesting others → 4014. */
  enabledPrivilegedIntents: number;
  origin: () => string;
  onChange: () => void;
  rules: ShardRules;
  /** Session starts for the whole bot (shared by every connection). */
  identifies: IdentifyLimiter;
}

/** Per-session shaping of a dispatch: return the `d` to send, or null to skip this session. */
export type DispatchShaper = (session: GatewaySession) => any | null;

export class FakeGateway {
  readonly wss = new WebSocketServer({ noServer: true });
  readonly log: GatewayLogEntry[] = [];
  readonly sessions = new Map<string, GatewaySession>();
  /** Every session started (accepted IDENTIFY): its shard and when, on the fake's clock. */
  readonly started: Array<{ shard: [number, number]; at: number }> = [];
  private forcedReplay = 0;
  /** The last sequence number each session's client reported in a heartbeat. */
  private readonly heard = new Map<string, number>();
  /** Sessions asked for a heartbeat (op 1 from the server) that have not sent one since. */
  private readonly asked = new Set<string>();
  /** Wall-clock time of the last server-initiated drop (disconnect/op 7/op 9), see close(). */
  private lastDropAt = -Infinity;
  private closing = false;

  constructor(private readonly world: DiscordWorld, private readonly opts: GatewayOptions) {
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  get resumeUrl(): string {
    return `${this.opts.origin().replace('http', 'ws')}/gateway`;
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/gateway') {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
    });
  }

  /**
   * Dispatch an event to the sessions (live or waiting to resume) that Discord sends it to, shaped
   * per session: a guild's event to its shard's sessions, a DM's (`guildId` null) to shard 0's;
   * `guildId` undefined: every session.
   */
  dispatch(t: string, shape: DispatchShaper, guildId?: string | null): void {
    for (const s of this.sessions.values()) {
      if (guildId === null && s.shard[0] !== 0) continue;
      if (typeof guildId === 'string' && shardOf(guildId, s.shard[1]) !== s.shard[0]) continue;
      const d = shape(s);
      if (d !== null && d !== undefined) this.push(s, t, d, true);
    }
    this.opts.onChange();
  }

  /**
   * True once every session is connected and its client has confirmed, in a heartbeat, the last
   * event sent to it — frames arrive in order, so it has read everything dispatched before. A
   * session that is behind is asked for a heartbeat now (op 1), again after each answer: the
   * client may answer before it has finished with an event that arrived in the same read.
   */
  caughtUp(): boolean {
    let all = true;
    for (const s of this.sessions.values()) {
      if (!s.socket || s.socket.readyState !== WebSocket.OPEN) {
        all = false;
        continue;
      }
      if ((this.heard.get(s.id) ?? -1) >= s.seq) continue;
      all = false;
      if (!this.asked.has(s.id)) {
        this.asked.add(s.id);
        this.send(s.socket, { op: 1, d: null, s: null, t: null });
      }
    }
    return all;
  }

  /** Close every live socket with `code` (1006 = drop the TCP connection without a close frame). */
  disconnect(code = 4000): void {
    this.lastDropAt = Date.now();
    for (const ws of this.wss.clients) {
      if (code === 1006) ws.terminate();
      else ws.close(code, 'fake discord: disconnect()');
    }
  }

  /** On the next RESUME, replay the last `count` buffered events even if the client has them. */
  replayOnResume(count: number): void {
    this.forcedReplay = count;
  }

  /** Send op 7 RECONNECT to live sessions (client closes and resumes). */
  requestReconnect(): void {
    this.lastDropAt = Date.now();
    for (const s of this.sessions.values()) if (s.socket) this.send(s.socket, { op: 7, d: null, s: null, t: null });
  }

  /** Send op 9 INVALID_SESSION; when not resumable the sessions are forgotten (client re-identifies). */
  /** Forget every session no client is connected to, as Discord lets one lapse minutes after its connection closed. */
  lapseDisconnectedSessions(): number {
    let n = 0;
    for (const [id, s] of this.sessions) if (!s.socket) n += Number(this.sessions.delete(id));
    this.opts.onChange();
    return n;
  }

  invalidateSessions(resumable: boolean): void {
    this.lastDropAt = Date.now();
    for (const [id, s] of this.sessions) {
      if (s.socket) this.send(s.socket, { op: 9, d: resumable, s: null, t: null });
      if (!resumable) this.sessions.delete(id);
    }
  }

  /**
   * Close live clients with 4004, give them 250 ms to answer, then drop whatever is left.
   * 4004 ("Authentication failed") because discord.js treats it as fatal and stops: after any
   * resumable code (1001, 1006, 4000…) discord.js 14.28 retries every 500 ms forever, and a
   * `client.destroy()` that lands in that back-off does not cancel it — the test process would
   * never exit. For the same reason, within 1.5 s of a disconnect()/op 7/op 9, while a session
   * is still waiting to resume, the fake keeps listening until the straggler's reconnect
   * arrives and refuses it with 4004 too.
   * The client emits `shardError` "Authentication failed"; nothing throws.
   */
  async close(): Promise<void> {
    this.closing = true;
    const settle = (ws: WebSocket) => new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => { ws.terminate(); resolve(); }, 250);
      ws.once('close', () => { clearTimeout(timer); resolve(); });
      if (ws.readyState === WebSocket.OPEN) ws.close(4004, 'fake discord: shutting down');
    });
    await Promise.all([...this.wss.clients].map(settle));
    const wait = this.lastDropAt + 1500 - Date.now();
    if (wait > 0 && [...this.sessions.values()].some((x) => !x.socket)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() { clearTimeout(timer); resolve(); }
        this.wss.once('connection', (ws: WebSocket) => void settle(ws).then(done));
      });
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket): void {
    if (this.closing) {
      ws.on('close', (code) => this.log.push({ dir: 'in', op: -1, closeCode: code, at: this.world.now() }));
      return ws.close(4004, 'fake discord: shutting down');
    }
    let session: GatewaySession | null = null;
    this.send(ws, { op: 10, d: { heartbeat_interval: this.opts.heartbeatIntervalMs }, s: null, t: null });
    const fail = (code: number, reason: string) => ws.close(code, reason);
    ws.on('message', (raw) => {
      let p: any;
      try {
        p = JSON.parse(String(raw));
      } catch {
        return fail(4002, 'Error while decoding payload.');
      }
      const at = this.world.now();
      this.log.push({ dir: 'in', op: p?.op, at, ...(p?.op === 2 || p?.op === 6 ? { d: p.d } : {}) });
      this.opts.onChange();
      switch (p?.op) {
        case 1:
          if (session) {
            this.asked.delete(session.id);
            if (typeof p.d === 'number') this.heard.set(session.id, p.d);
          }
          return this.send(ws, { op: 11, d: null, s: null, t: null });
        case 2: {
          if (session) return fail(4005, 'Already authenticated.');
          if (p.d?.token !== this.world.token) return fail(4004, 'Authentication failed.');
          const intents = p.d?.intents;
          if (typeof intents !== 'number' || intents < 0 || (intents & ~ALL_INTENTS) !== 0) return fail(4013, 'Invalid intent(s).');
          if ((intents & PRIVILEGED_INTENTS & ~this.opts.enabledPrivilegedIntents) !== 0) return fail(4014, 'Disallowed intent(s).');
          const verdict = judgeShard(p.d?.shard, [...this.world.guilds.keys()], this.opts.rules);
          if (!verdict.ok) return fail(verdict.code, verdict.reason);
          const [shardId, shardCount] = verdict.shard;
          if (!this.opts.identifies.take(shardId)) return this.send(ws, { op: 9, d: false, s: null, t: null });
          session = { id: `fake-session-${this.world.snowflake()}`, intents, shard: verdict.shard, seq: 0, buffer: [], socket: ws };
          this.started.push({ shard: verdict.shard, at });
          this.sessions.set(session.id, session);
          const guilds = [...this.world.guilds.values()].filter((g) => shardOf(g.id, shardCount) === shardId);
          this.push(session, 'READY', {
            v: 10, user: this.world.bot, guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
            session_id: session.id, session_type: 'normal', resume_gateway_url: this.resumeUrl,
            shard: verdict.shard, private_channels: [], relationships: [], presences: [], guild_join_requests: [],
            geo_ordered_rtc_regions: [], user_settings: {}, auth: {},
            application: { id: this.world.applicationId, flags: 0 },
          }, false);
          if (intents & Intents.Guilds) for (const g of guilds) this.push(session, 'GUILD_CREATE', this.world.guildCreatePayload(g), true);
          return;
        }
        case 6: {
          if (session) return fail(4005, 'Already authenticated.');
          if (p.d?.token !== this.world.token) return fail(4004, 'Authentication failed.');
          const s = this.sessions.get(p.d?.session_id);
          if (!s) return this.send(ws, { op: 9, d: false, s: null, t: null });
          if (typeof p.d.seq !== 'number' || p.d.seq > s.seq) return fail(4007, 'Invalid seq.');
          if (s.socket && s.socket !== ws && s.socket.readyState === WebSocket.OPEN) s.socket.terminate();
          session = s;
          s.socket = ws;
          const from = this.forcedReplay > 0 ? Math.min(p.d.seq, s.seq - this.forcedReplay) : p.d.seq;
          this.forcedReplay = 0;
          for (const e of s.buffer) if (e.s > from) this.send(ws, { op: 0, t: e.t, s: e.s, d: e.d });
          this.push(s, 'RESUMED', {}, false);
          return;
        }
        case 3: case 4: case 8: case 31:
          if (!session) return fail(4003, 'Not authenticated.');
          return; // presence / voice / member requests: accepted and ignored
        default:
          return session ? fail(4001, 'Unknown opcode.') : fail(4003, 'Not authenticated.');
      }
    });
    ws.on('close', (code) => {
      this.log.push({ dir: 'in', op: -1, closeCode: code, at: this.world.now() });
      if (session && session.socket === ws) {
        session.socket = null;
        this.asked.delete(session.id);
        if (code === 1000 || code === 1001) this.sessions.delete(session.id);
      }
      this.opts.onChange();
    });
    ws.on('error', () => { /* client vanished; 'close' follows */ });
  }

  private push(s: GatewaySession, t: string, d: any, buffered: boolean): void {
    const frame = { op: 0, t, s: ++s.seq, d };
    if (buffered) {
      s.buffer.push({ s: frame.s, t, d });
      if (s.buffer.length > 5000) s.buffer.shift();
    }
    if (s.socket && s.socket.readyState === WebSocket.OPEN) this.send(s.socket, frame);
  }

  private send(ws: WebSocket, frame: { op: number; d: any; s: number | null; t: string | null }): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    this.log.push({ dir: 'out', op: frame.op, t: frame.t, s: frame.s, at: this.world.now() });
    ws.send(JSON.stringify(frame));
  }
}
