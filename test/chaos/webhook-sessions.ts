/**
 * Proactive messages to API sessions, POSTed to a webhook, under kills (`npm run chaos --
 * --proactive N`): a tenant of its own has a `webhookUrl` on a receiver in this process, opens
 * 2N sessions with a character that may reach out, one every 1.5 s, says hello once in each and
 * falls silent, so the scheduler reaches out to each once (a tenant's sessions at most once an
 * hour: feed entry and webhook), a minute later, spread over the time instances are killed. One key's deliveries go one at a time, and the
 * receiver takes 100–600 ms to answer, so kills land mid-POST; it answers 503 to the first
 * attempt of every third delivery, so retries run too.
 *
 * The check, against the tenant's feed and what the receiver saw: every proactive message on
 * the feed reached the receiver with a good signature and was answered 2xx; none was on the
 * feed twice or POSTed under two X-Webhook-Ids (the same id again is a retry the receiver
 * dedupes on, counted, not failed); no delivery left `pending` or `sending` once its instance
 * is gone; credits charged = replies + proactive messages on the feed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql, type Kysely } from 'kysely';
import { sendApi, type ApiTurn } from './traffic.js';

const SECRET = 'chaos-webhook-secret-0123456789';
const PROACTIVE_TEXT = /reach out (\d+)/;

interface Receipt {
  webhookId: string;
  messageId: string;
  content: string;
  signed: boolean;
  status: number;
}

export interface WebhookFindings {
  /** Proactive messages on the tenant's feed. */
  onFeed: number;
  /** Sessions reached out to more than once (a tenant's session: at most once an hour). */
  twice: string[];
  /** Sessions reached out to that no hello was answered with (a retried hello that opened a second session). */
  unknownSessions: number;
  /** What the database holds for the sessions reached out to twice (outbox rows, proactive messages, the session's count). */
  explained: string[];
  /** On the feed, never answered 2xx by the receiver. */
  lost: string[];
  /** On the feed twice, or POSTed under two X-Webhook-Ids. */
  duplicated: string[];
  /** POSTs whose signature did not verify. */
  badSignatures: number;
  /** The same X-Webhook-Id answered 2xx more than once (a retry after a lost answer). */
  redelivered: number;
  /** Webhook deliveries still pending or sending. */
  stuck: number;
  /** Credits charged minus the replies and proactive messages they paid for. */
  leaked: number;
  /** Webhook outbox rows by state. */
  states: Record<string, number>;
  /** Seconds from a proactive message's feed entry to its first 2xx at the receiver: p50, max. */
  lagP50: number;
  lagMax: number;
  /** Seconds from the feed entry to the first POST of it (waiting in the key's lane): p50, max. */
  firstPostP50: number;
  firstPostMax: number;
}

export class WebhookSessions {
  private server: Server | undefined;
  private readonly receipts: Receipt[] = [];
  private readonly firstSeen = new Map<string, number>();
  private readonly firstPost = new Map<string, number>();
  private readonly tries = new Map<string, number>();
  private key = '';
  private keyId = '';
  private opening: Promise<ApiTurn[]> = Promise.resolve([]);
  private opened: ApiTurn[] = [];

  constructor(private readonly sessions: number) {}

  /** The instances' settings: the receiver is on loopback. */
  static env(): Record<string, string> {
    return { SSRF_ALLOW_HOSTS: '127.0.0.1' };
  }

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      void body(req).then((raw) => {
        const webhookId = String(req.headers['x-webhook-id'] ?? '');
        const expected = createHmac('sha256', SECRET).update(raw).digest();
        const given = Buffer.from(String(req.headers['x-webhook-signature'] ?? ''), 'hex');
        const signed = given.length === expected.length && timingSafeEqual(given, expected);
        const message = (JSON.parse(raw) as { data?: { message?: { id?: string; content?: string } } }).data?.message;
        const tries = (this.tries.get(webhookId) ?? 0) + 1;
        if (!this.firstPost.has(webhookId)) this.firstPost.set(webhookId, Date.now());
        this.tries.set(webhookId, tries);
        // Every third delivery's first attempt is refused, so the outbox's retries run under kills too.
        const status = tries === 1 && hash(webhookId) % 3 === 0 ? 503 : 200;
        setTimeout(() => {
          // Recorded as answered, whether or not the sender lived to read it (a kill mid-POST).
          this.receipts.push({ webhookId, messageId: message?.id ?? '', content: message?.content ?? '', signed, status });
          if (status === 200 && !this.firstSeen.has(webhookId)) this.firstSeen.set(webhookId, Date.now());
          res.writeHead(status).end();
        }, 100 + (hash(`${webhookId}:${tries}`) % 500));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hook`;
  }

  /** A tenant with the webhook; then, in the background, one session a hello each (retried through restarts). */
  async open(url: () => string, admin: string, characterId: string): Promise<void> {
    const res = await fetch(`${url()}/api/v1/api-keys`, {
      method: 'POST',
      headers: { 'x-api-key': admin, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'webhooked', credits: 100_000, webhookUrl: this.url, webhookSecret: SECRET }),
    });
    const made = (await res.json()) as { key: string; id: string };
    this.key = made.key;
    this.keyId = made.id;
    this.opening = Promise.all(Array.from({ length: this.sessions }, async (_, n) => (await sleep(n * 1500), sendApi(url, this.key, `hook${n}`, { withKey: true, characterId }))));
  }

  /** Every session's hello answered (or given up on). */
  async allOpened(): Promise<void> {
    this.opened = await this.opening;
  }

  /** Whether every delivery has ended (nothing pending or sending). */
  async settled(db: Kysely<any>): Promise<boolean> {
    const r = await sql<{ n: number | string }>`select count(*) as n from webhook_outbox where api_key_id = ${this.keyId} and state in ('pending', 'sending')`.execute(db);
    return Number(r.rows[0]?.n ?? 0) === 0;
  }

  async findings(url: () => string, admin: string, db: Kysely<any>): Promise<WebhookFindings> {
    const feed: Array<{ id: string; content: string; at: number; sessionId: string }> = [];
    let replies = 0;
    for (let cursor = '0'; ; ) {
      const r = (await (await fetch(`${url()}/api/v1/updates?cursor=${cursor}&limit=100`, { headers: { 'x-api-key': this.key } })).json()) as {
        updates: Array<{ kind: string; sessionId: string; message?: { id: string; content: string; sentAt?: string } }>;
        cursor: string;
      };
      for (const u of r.updates) {
        if (u.kind === 'proactive' && u.message) feed.push({ id: u.message.id, content: u.message.content, at: Date.parse(u.message.sentAt ?? ''), sessionId: u.sessionId });
        else if (u.kind === 'reply') replies++;
      }
      if (r.updates.length < 100) break;
      cursor = r.cursor;
    }
    const okIds = new Map<string, Set<string>>();
    for (const r of this.receipts) if (r.status === 200 && r.signed) okIds.set(r.messageId, (okIds.get(r.messageId) ?? new Set()).add(r.webhookId));
    const okPosts = this.receipts.filter((r) => r.status === 200 && r.signed);
    const byMessage = new Map<string, number>();
    for (const f of feed) byMessage.set(f.id, (byMessage.get(f.id) ?? 0) + 1);
    const label = (id: string) => PROACTIVE_TEXT.exec(feed.find((f) => f.id === id)?.content ?? '')?.[0] ?? id;
    const rows = (await sql<{ state: string }>`select state from webhook_outbox where api_key_id = ${this.keyId}`.execute(db)).rows;
    const states: Record<string, number> = {};
    for (const r of rows) states[r.state] = (states[r.state] ?? 0) + 1;
    const keys = (await (await fetch(`${url()}/api/v1/api-keys`, { headers: { 'x-api-key': admin } })).json()) as { apiKeys: Array<{ id: string; creditsUsed: number }> };
    const charged = keys.apiKeys.find((k) => k.id === this.keyId)?.creditsUsed ?? 0;
    const since = (seen: Map<string, number>) =>
      feed.flatMap((f) => {
        const id = [...(okIds.get(f.id) ?? [])][0];
        const at = id ? seen.get(id) : undefined;
        return at !== undefined && Number.isFinite(f.at) ? [(at - f.at) / 1000] : [];
      }).sort((a, b) => a - b);
    const lags = since(this.firstSeen);
    const waits = since(this.firstPost);
    const perSession = new Map<string, number>();
    for (const f of new Map(feed.map((f) => [f.id, f])).values()) perSession.set(f.sessionId, (perSession.get(f.sessionId) ?? 0) + 1);
    const hellos = new Set(this.opened.flatMap((t) => (t.sessionId ? [t.sessionId] : [])));
    const twice = [...perSession].filter(([, n]) => n > 1).map(([id]) => id);
    const explained: string[] = [];
    const when = (t: unknown) => (t === null || t === undefined ? '—' : new Date(Number(t)).toISOString().slice(14, 23));
    for (const id of twice.slice(0, 5)) {
      const rows = (await sql<{ id: number; state: string; owner: string | null; created_at: number; updated_at: number; message_id: string | null; attempts: number }>`
        select id, state, owner, created_at, updated_at, message_id, attempts from proactive_outbox where conversation_id = ${id} order by id`.execute(db)).rows;
      const made = (await sql<{ id: string; created_at: string; source_event: string | null }>`
        select id, created_at, source_event from messages where conversation_id = ${id} and kind = 'proactive' order by created_at`.execute(db)).rows;
      const conv = (await sql<{ proactive_last_at: number | null; proactive_day_count: number; proactive_next_at: number | null }>`
        select proactive_last_at, proactive_day_count, proactive_next_at from conversations where id = ${id}`.execute(db)).rows[0];
      explained.push(`${id}: last sent ${when(conv?.proactive_last_at)}, ${conv?.proactive_day_count} today, next ${when(conv?.proactive_next_at)}`);
      for (const r of rows) explained.push(`    outbox ${r.id} ${r.state}, created ${when(r.created_at)}, updated ${when(r.updated_at)}, owner ${r.owner?.slice(0, 8) ?? '—'}, attempts ${r.attempts}, message ${r.message_id ?? '—'}`);
      for (const m of made) explained.push(`    message ${m.id} at ${m.created_at.slice(14, 23)}, key ${m.source_event ?? '—'}`);
    }
    return {
      explained,
      onFeed: feed.length,
      twice,
      unknownSessions: [...perSession.keys()].filter((id) => !hellos.has(id)).length,
      lost: feed.filter((f) => !okIds.has(f.id)).map((f) => label(f.id)),
      duplicated: [...new Set([...[...byMessage].filter(([, n]) => n > 1).map(([id]) => id), ...[...okIds].filter(([, ids]) => ids.size > 1).map(([id]) => id)])].map(label),
      badSignatures: this.receipts.filter((r) => !r.signed).length,
      redelivered: okPosts.length - new Set(okPosts.map((r) => r.webhookId)).size,
      stuck: (states.pending ?? 0) + (states.sending ?? 0),
      leaked: charged - replies - feed.length,
      states,
      lagP50: lags[Math.floor(lags.length / 2)] ?? 0,
      lagMax: lags.at(-1) ?? 0,
      firstPostP50: waits[Math.floor(waits.length / 2)] ?? 0,
      firstPostMax: waits.at(-1) ?? 0,
    };
  }

  /** Each session's hello, as its client saw it (carries an Idempotency-Key). */
  get hellos(): ApiTurn[] {
    return this.opened;
  }

  /** The session each hello's reply is in, read from the key's updates feed. */
  async helloSessions(url: () => string): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (let cursor = '0'; ; ) {
      const r = (await (await fetch(`${url()}/api/v1/updates?cursor=${cursor}&limit=100`, { headers: { 'x-api-key': this.key } })).json()) as { updates: Array<{ kind: string; sessionId: string; message: { content: string } | null }>; cursor: string };
      for (const u of r.updates) {
        const token = /re: (hook\d+)/.exec(u.message?.content ?? '')?.[1];
        if (token && u.kind === 'reply') found.set(token, u.sessionId);
      }
      if (r.updates.length < 100) return found;
      cursor = r.cursor;
    }
  }

  /** Sessions whose hello was accepted. */
  get accepted(): number {
    return this.opened.filter((t) => t.accepted).length;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}
