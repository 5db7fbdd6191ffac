import { createHmac } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Clock } from '../core/clock.js';
import { checkResolvedUrl } from '../core/ssrf.js';
import type { Logger } from '../log.js';
import type { Store, WebhookDelivery } from '../store/index.js';

export interface WebhookSenderOptions {
  ssrfAllowHosts: readonly string[];
  /** Attempts per delivery (TuringMate's webhooks promise 3). */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt (exponential backoff). */
  backoffMs?: number;
  /** Per-attempt timeout (TuringMate's webhooks promise 10 s). */
  timeoutMs?: number;
  /** Resolve a host to its addresses (tests may pin it); defaults to the system resolver. */
  resolve?: (host: string) => Promise<string[]>;
}

/** Lowercase hex HMAC-SHA256 of the raw body: what a receiver recomputes to verify X-Webhook-Signature. */
export function signWebhook(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

/**
 * Delivers queued webhook events. Each attempt resolves the receiver's host and refuses private
 * addresses (SSRF), then connects to the vetted address itself, so a DNS answer that changes
 * between the check and the request cannot redirect it. Up to 3 attempts with exponential
 * backoff and a 10 s timeout each; a delivery that fails every attempt counts against the key,
 * and 5 such failures in a row disable the key's webhook until an admin re-enables it.
 */
export class WebhookSender {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private store: Store, private clock: Clock, private log: Logger, private opts: WebhookSenderOptions) {}

  /** Queue an event for a key (once per event id) and try to send it right away. */
  async enqueue(apiKeyId: string, event: string, eventId: string, data: unknown): Promise<void> {
    const now = this.clock.now();
    const payload = JSON.stringify({ event, timestamp: new Date(now).toISOString(), data });
    if (await this.store.webhooks.enqueue({ eventId, apiKeyId, event, payload }, now)) this.kick();
  }

  /**
   * Send everything due now; returns how many were delivered. Passes never overlap: a call made
   * while one runs waits for it and then makes its own pass, so nothing due is missed.
   */
  processDue(): Promise<number> {
    const pass = this.chain.then(() => this.sendDue());
    this.chain = pass.then(
      () => this.arm(),
      () => this.arm(),
    );
    return pass;
  }

  /** Start the background timer that wakes for the next due delivery. */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.chain;
  }

  private kick(): void {
    if (!this.stopped && this.timer === undefined) void this.processDue();
  }

  private async arm(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    const next = await this.store.webhooks.nextDueAt().catch(() => null);
    if (next === null || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.processDue();
    }, Math.max(0, Math.min(next - this.clock.now(), 60_000)));
    this.timer.unref();
  }

  private async sendDue(): Promise<number> {
    let delivered = 0;
    for (const d of await this.store.webhooks.due(this.clock.now(), 100)) {
      if (await this.attempt(d)) delivered++;
    }
    return delivered;
  }

  private async attempt(d: WebhookDelivery): Promise<boolean> {
    const { webhooks, apiKeys } = this.store;
    const key = await apiKeys.get(d.apiKeyId);
    const now = this.clock.now();
    if (!key || !key.webhookUrl || !key.webhookSecret || key.webhookDisabled) {
      await webhooks.finish(d.id, 'dropped', d.attempts, key ? 'webhook not configured or disabled' : 'api key deleted', now);
      return false;
    }
    const attempts = d.attempts + 1;
    const error = await this.post(key.webhookUrl, key.webhookSecret, d).catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
    const after = this.clock.now();
    if (error === null) {
      await webhooks.finish(d.id, 'delivered', attempts, null, after);
      await webhooks.resetFailures(key.id);
      return true;
    }
    if (attempts < (this.opts.maxAttempts ?? 3)) {
      await webhooks.retryLater(d.id, attempts, after + (this.opts.backoffMs ?? 2000) * 2 ** (attempts - 1), error, after);
      this.log.warn({ apiKeyId: key.id, eventId: d.eventId, attempts, error }, 'webhook delivery failed; will retry');
      return false;
    }
    await webhooks.finish(d.id, 'failed', attempts, error, after);
    if (await webhooks.countFailure(key.id)) {
      this.log.warn({ apiKeyId: key.id }, 'webhook disabled after repeated failed deliveries; re-enable with PATCH /api/v1/api-keys/:id {"webhookDisabled":false}');
    }
    return false;
  }

  /** One POST; resolves null on a 2xx, else rejects/returns the reason. */
  private async post(url: string, secret: string, d: WebhookDelivery): Promise<string | null> {
    const resolve = this.opts.resolve ?? (async (h: string) => (await dnsLookup(h, { all: true })).map((a) => a.address));
    const check = await checkResolvedUrl(url, { allowHosts: this.opts.ssrfAllowHosts }, resolve);
    if (!check.ok) return `webhookUrl ${check.reason}`;
    const vetted = check.addresses[0];
    const pinned: LookupFunction = (_host, options, cb) => {
      const family = vetted?.includes(':') ? 6 : 4;
      if ((options as { all?: boolean }).all) (cb as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: vetted!, family }]);
      else cb(null, vetted!, family);
    };
    const body = Buffer.from(d.payload, 'utf8');
    const timestamp = String(Math.floor(this.clock.now() / 1000));
    const send = check.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolveP) => {
      const req = send(
        check.url,
        {
          method: 'POST',
          lookup: pinned,
          timeout: this.opts.timeoutMs ?? 10_000,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            'user-agent': 'charbridge-webhooks/1',
            'x-webhook-signature': signWebhook(secret, d.payload),
            'x-webhook-event': d.event,
            'x-webhook-timestamp': timestamp,
            'x-webhook-id': d.eventId,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolveP(res.statusCode && res.statusCode >= 200 && res.statusCode < 300 ? null : `receiver answered ${res.statusCode}`));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => resolveP(err.message));
      req.end(body);
    });
  }
}
