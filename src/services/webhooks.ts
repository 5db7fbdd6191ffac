import { createHmac, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../core/clock.js';
import { TaskTracker } from '../core/tasks.js';
import { Semaphore } from '../engine/index.js';
import type { Logger } from '../log.js';
import type { Store, WebhookDelivery } from '../store/index.js';
import { safeFetch, SafeFetchError, type Resolve, type StartTimer } from './safe-fetch.js';
import type { ProxySettings } from '../core/proxy.js';

export interface WebhookSenderOptions {
  ssrfAllowHosts: readonly string[];
  /** Attempts per delivery (TuringMate's webhooks promise 3). */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt (exponential backoff). */
  backoffMs?: number;
  /** One deadline per attempt, from resolving the host to the answer (WEBHOOK_TIMEOUT_MS; 10 s promised). */
  timeoutMs?: number;
  /** Keys delivered at the same time (WEBHOOK_CONCURRENCY). */
  concurrency?: number;
  /** Resolve a host to its addresses (tests pin it); defaults to the system resolver. */
  resolve?: Resolve | undefined;
  /** Starts each attempt's deadline timer (tests fire it by hand). */
  timer?: StartTimer | undefined;
  /** Which addresses are refused (tests on loopback); `isBlockedAddress` by default. */
  isBlocked?: ((ip: string) => boolean) | undefined;
  /** The outbound proxy, when one is set: deliveries go through it to the vetted address. */
  proxy?: ProxySettings | undefined;
  /** This sender's name on its claims; unique per process unless given. */
  owner?: string;
  /**
   * `owner` is an instance that heartbeats (`Liveness`): a claim of one not heard from for this
   * long is over at once, rather than when its lease runs out (the attempt's deadline plus a
   * minute), so a killed sender does not hold its keys' deliveries that long.
   */
  deadAfterMs?: number | undefined;
}

/** Keys a pass starts lanes for; the next pass (the timer fires at once) takes the rest. */
const KEYS_PER_PASS = 100;
/** A claim outlives its attempt's deadline by this much, so only a dead sender's claim lapses. */
const LEASE_MARGIN_MS = 60_000;
/** When the outbox cannot be read, look again after this long. */
const RETRY_READ_MS = 5_000;

/** What became of one delivery attempt: sent, to be retried, given up after every attempt, or dropped (no webhook configured any more). */
export type WebhookOutcome = 'delivered' | 'retrying' | 'failed' | 'dropped';

/** Lowercase hex HMAC-SHA256 of the raw body: what a receiver recomputes to verify X-Webhook-Signature. */
export function signWebhook(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

/**
 * Delivers queued webhook events. Every attempt goes through `safeFetch` (the receiver's host
 * resolved once, every address judged, the connection pinned to them, one total deadline), so
 * neither a rebinding DNS answer nor a receiver that trickles bytes gets past it.
 *
 * Each key has one lane: its deliveries go one at a time, in order, while different keys'
 * lanes run side by side (up to `concurrency`), so a slow receiver holds up only its own key.
 * A delivery is claimed in the store before it is POSTed, so several processes on one database
 * share the outbox without sending anything twice; a claim left by a process that died lapses
 * (once the process counts as dead, with `deadAfterMs`) and the delivery is retried under the
 * same X-Webhook-Id. Up to 3 attempts with exponential
 * backoff; a delivery that fails every attempt counts against the key, and 5 such failures in a
 * row disable the key's webhook until an admin re-enables it.
 */
export class WebhookSender {
  /** Who this sender is on its claims. */
  readonly owner: string;
  private readonly slots: Semaphore;
  private readonly lanes = new Map<string, Promise<number>>();
  private readonly passes = new TaskTracker();
  private timer: NodeJS.Timeout | undefined;
  private arming: Promise<void> = Promise.resolve();
  private started = false;
  private stopped = false;
  /** A `lookAgain` read still on its way: the next one is not queued behind it. */
  private looking = false;
  private readonly listeners: Array<(outcome: WebhookOutcome) => void> = [];

  constructor(
    private store: Store,
    private clock: Clock,
    private log: Logger,
    private opts: WebhookSenderOptions,
  ) {
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.slots = new Semaphore(opts.concurrency ?? 8);
  }

  /** Queue an event for a key (once per event id) and try to send it right away. */
  async enqueue(apiKeyId: string, event: string, eventId: string, data: unknown): Promise<void> {
    const now = this.clock.now();
    const payload = JSON.stringify({ event, timestamp: new Date(now).toISOString(), data });
    if (await this.store.webhooks.enqueue({ eventId, apiKeyId, event, payload }, now)) this.kick();
  }

  /**
   * Start a lane for every key with something due, then wait until every lane of this process
   * (those started earlier included) has run dry; returns how many deliveries they made.
   */
  async processDue(): Promise<number> {
    try {
      await this.startDueLanes();
      const counts = await Promise.all(this.lanes.values());
      return counts.reduce((a, b) => a + b, 0);
    } finally {
      this.arm();
    }
  }

  /** Be told the outcome of every delivery attempt (metrics); a listener that throws is ignored. */
  onDelivery(listener: (outcome: WebhookOutcome) => void): void {
    this.listeners.push(listener);
  }

  private tell(outcome: WebhookOutcome): void {
    for (const l of this.listeners) {
      try {
        l(outcome);
      } catch {
        // counting must never stop a delivery
      }
    }
  }

  /** Start the background timer that wakes for the next due delivery. */
  start(): void {
    this.started = true;
    this.stopped = false;
    this.kick();
  }

  /**
   * Look for deliveries no timer of this process knows of: what another instance left when it
   * died (a claim that lapses with it, a retry it had set, an event it queued but never sent).
   * This process's timer is set only from what it saw itself, so without this a survivor with
   * nothing of its own to send would leave them until its next own event. Called on every
   * heartbeat; one read, and lanes only for keys with something due.
   */
  lookAgain(): void {
    if (!this.started || this.stopped || this.looking) return;
    this.looking = true;
    void this.passes
      .track(this.startDueLanes())
      .catch((err: unknown) => this.log.debug({ err }, 'could not look at the webhook outbox; the next heartbeat looks again'))
      .finally(() => (this.looking = false));
  }

  /** Start a lane for every key with something due that this process is not already sending. */
  private async startDueLanes(): Promise<void> {
    if (this.stopped) return;
    const keys = await this.store.webhooks.dueKeys(this.clock.now(), KEYS_PER_PASS, [...this.lanes.keys()], this.opts.deadAfterMs, this.owner);
    if (!this.stopped) for (const key of keys) this.lane(key);
  }

  /** Stop taking new work and wait for attempts in flight (each ends by its deadline). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.passes.drain();
    await Promise.all(this.lanes.values());
    await this.arming;
    clearTimeout(this.timer);
  }

  private kick(): void {
    if (this.stopped) return;
    void this.passes.track(this.processDue()).catch((err: unknown) => {
      this.log.error({ err }, 'could not read the webhook outbox');
    });
  }

  /** One key's deliveries, one at a time, each holding one of the shared slots while it runs. */
  private lane(key: string): void {
    if (this.lanes.has(key)) return;
    const run = (async () => {
      let delivered = 0;
      while (!this.stopped) {
        const release = await this.slots.acquire(key);
        try {
          if (this.stopped) break;
          const d = await this.store.webhooks.claimNext(key, this.owner, this.clock.now(), (this.opts.timeoutMs ?? 10_000) + LEASE_MARGIN_MS, this.opts.deadAfterMs);
          if (!d) break;
          if (await this.attempt(d)) delivered++;
        } finally {
          release();
        }
      }
      return delivered;
    })()
      .catch((err: unknown) => {
        this.log.error({ err, apiKeyId: key }, 'webhook delivery stopped on a store error; it is sent again once the database answers');
        return 0;
      })
      .finally(() => {
        this.lanes.delete(key);
        this.arm();
      });
    this.lanes.set(key, run);
  }

  /** Set the timer for the next due delivery; one at a time, so the latest reading wins. */
  private arm(): void {
    this.arming = this.arming.then(async () => {
      if (this.stopped) return;
      const now = this.clock.now();
      const next = await this.store.webhooks.nextDueAt(now, [...this.lanes.keys()], this.opts.deadAfterMs, this.owner).catch((err: unknown) => {
        this.log.warn({ err }, 'could not read the webhook outbox; looking again shortly');
        return now + RETRY_READ_MS;
      });
      clearTimeout(this.timer);
      this.timer = undefined;
      if (next === null || this.stopped) return;
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.kick();
        },
        Math.max(0, Math.min(next - now, 60_000)),
      );
      this.timer.unref();
    });
  }

  /** One claimed attempt; true when the receiver accepted it. */
  private async attempt(d: WebhookDelivery): Promise<boolean> {
    const { webhooks, apiKeys } = this.store;
    const maxAttempts = this.opts.maxAttempts ?? 3;
    const key = await apiKeys.get(d.apiKeyId);
    if (!key || !key.webhookUrl || !key.webhookSecret || key.webhookDisabled) {
      this.ended(d, await webhooks.finish(d.id, this.owner, 'dropped', key ? 'webhook not configured or disabled' : 'api key deleted', this.clock.now()));
      this.tell('dropped');
      return false;
    }
    // A sender that stopped during the last attempt used it up; whether it arrived is unknown.
    const error = d.attempts > maxAttempts ? 'no attempts left (a sender stopped during the last one)' : await this.post(key.webhookUrl, key.webhookSecret, d);
    const after = this.clock.now();
    if (error === null) {
      if (this.ended(d, await webhooks.finish(d.id, this.owner, 'delivered', null, after))) await webhooks.resetFailures(key.id);
      this.tell('delivered');
      return true;
    }
    if (d.attempts < maxAttempts) {
      const at = after + (this.opts.backoffMs ?? 2000) * 2 ** (d.attempts - 1);
      this.ended(d, await webhooks.retryLater(d.id, this.owner, at, error, after));
      this.log.warn({ apiKeyId: key.id, eventId: d.eventId, attempts: d.attempts, error }, 'webhook delivery failed; will retry');
      this.tell('retrying');
      return false;
    }
    this.tell('failed');
    if (this.ended(d, await webhooks.finish(d.id, this.owner, 'failed', error, after)) && (await webhooks.countFailure(key.id))) {
      this.log.warn({ apiKeyId: key.id }, 'webhook disabled after repeated failed deliveries; re-enable with PATCH /api/v1/api-keys/:id {"webhookDisabled":false}');
    }
    return false;
  }

  /** Whether this sender still held the claim when it recorded the outcome. */
  private ended(d: WebhookDelivery, held: boolean): boolean {
    if (!held) this.log.warn({ apiKeyId: d.apiKeyId, eventId: d.eventId }, 'webhook claim lapsed before the attempt was recorded; another sender may repeat it');
    return held;
  }

  /** One POST; null on a 2xx, else why not. */
  private async post(url: string, secret: string, d: WebhookDelivery): Promise<string | null> {
    const body = Buffer.from(d.payload, 'utf8');
    const headers = {
      'content-type': 'application/json',
      'content-length': body.length,
      'user-agent': 'charbridge-webhooks/1',
      'x-webhook-signature': signWebhook(secret, d.payload),
      'x-webhook-event': d.event,
      'x-webhook-timestamp': String(Math.floor(this.clock.now() / 1000)),
      'x-webhook-id': d.eventId,
    };
    const { ssrfAllowHosts: allowHosts, resolve, timer, isBlocked, proxy } = this.opts;
    try {
      const res = await safeFetch(url, { method: 'POST', headers, body, deadlineMs: this.opts.timeoutMs ?? 10_000, maxBytes: 0 }, { allowHosts, resolve, timer, isBlocked, proxy });
      return res.status >= 200 && res.status < 300 ? null : `receiver answered ${res.status}`;
    } catch (err) {
      if (err instanceof SafeFetchError) return `webhookUrl ${err.message}`;
      return err instanceof Error ? err.message : String(err);
    }
  }
}
