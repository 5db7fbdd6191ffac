import { sql, type Expression, type ExpressionBuilder, type Selectable, type SqlBool } from 'kysely';
import type { DB } from './db.js';
import { LockSpace, type SqlDialect } from './dialect.js';
import type { InstanceRepo } from './instances.js';
import { PROACTIVE_IN_FLIGHT } from './proactive.js';
import type { Database, WebhookOutboxRow } from './schema.js';

export interface WebhookDelivery {
  id: number;
  eventId: string;
  apiKeyId: string;
  event: string;
  /** The exact JSON body to POST (signed as-is). */
  payload: string;
  /** Attempts started, this one included. */
  attempts: number;
  createdAt: number;
}

/** The event id of a proactive message's webhook: one per message, however often its delivery is retried. */
const PROACTIVE_EVENT_PREFIX = 'evt_';
export const proactiveEventId = (messageId: string) => `${PROACTIVE_EVENT_PREFIX}${messageId}`;

/** Disable a key's webhook after this many deliveries in a row failed (every attempt). */
export const WEBHOOK_DISABLE_AFTER = 5;

/**
 * The webhook outbox and the per-key failure counter. A delivery is `pending` until a sender
 * claims it (`sending`, with an owner and a lease); the attempt then ends `delivered` (2xx),
 * back in `pending` for a retry, `failed` (every attempt failed) or `dropped` (the key's webhook
 * is off). Claims are compare-and-set updates, so two processes on one database never send the
 * same delivery, and a claim whose owner died lapses and the delivery is sent again: when its
 * lease runs out, or, for a sender that names its instance (`Liveness`, `deadAfterMs`), as soon
 * as that instance counts as dead, so a kill does not hold the key's deliveries for the lease.
 *
 * One key has at most one delivery in flight: claims of a key are serialised (an advisory lock
 * on PostgreSQL; SQLite's single writer does it by itself) and a key with a live claim hands out
 * nothing, so one key's deliveries go in order across processes too.
 */
export class WebhookRepo {
  constructor(
    private db: DB,
    private dialect: SqlDialect,
    private instances: InstanceRepo,
  ) {}

  /**
   * What makes a claim over: its lease ran out, or (with `deadAfterMs`) its owner is dead, or it
   * is `self`'s own. A sender's claims in flight are those of its lanes, one per key, and it asks
   * only about keys it has no lane for (`dueKeys`, `nextDueAt`) or for the lane's own key
   * (`claimNext`): a claim of its own found there was left by an attempt whose outcome the
   * database dropped under, and need not wait out its lease.
   */
  private lapse(now: number, deadAfterMs: number | undefined, self?: string): Lapse {
    return (eb, alias) =>
      eb.or([
        eb(`${alias}.claim_until`, '<=', now),
        ...(deadAfterMs === undefined ? [] : [this.instances.ownerDead(eb, `${alias}.claim_owner`, now - deadAfterMs)]),
        ...(self === undefined ? [] : [eb(`${alias}.claim_owner`, '=', self)]),
      ]);
  }

  /** Queue an event once; a repeated event id is ignored (retries of the same event share it). */
  async enqueue(d: { eventId: string; apiKeyId: string; event: string; payload: string }, now: number): Promise<boolean> {
    const r = await this.db
      .insertInto('webhook_outbox')
      .values({ event_id: d.eventId, api_key_id: d.apiKeyId, event: d.event, payload: d.payload, state: 'pending', attempts: 0, next_attempt_at: now, last_error: null, claim_owner: null, claim_until: null, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /**
   * Keys with a delivery ready to send now and none in flight, earliest first, leaving out
   * `exclude` (the keys this process is already working on).
   */
  async dueKeys(now: number, limit: number, exclude: readonly string[] = [], deadAfterMs?: number, self?: string): Promise<string[]> {
    const lapsed = this.lapse(now, deadAfterMs, self);
    let q = this.db
      .selectFrom('webhook_outbox as o')
      .select('o.api_key_id')
      .select((eb) => eb.fn.min('o.next_attempt_at').as('first'))
      .where((eb) => claimable(eb, now, lapsed))
      .where((eb) => eb.not(eb.exists(inFlight(eb, lapsed))))
      .groupBy('o.api_key_id')
      .orderBy('first')
      .limit(limit);
    if (exclude.length) q = q.where('o.api_key_id', 'not in', [...exclude]);
    return (await q.execute()).map((r) => r.api_key_id);
  }

  /**
   * Claim the key's next delivery (earliest due, then oldest) for `owner` until `now + leaseMs`,
   * counting the attempt; null when none is ready or another one of the key is in flight. With
   * `deadAfterMs`, owners are instances that heartbeat, and a dead one's claim is over at once.
   */
  async claimNext(apiKeyId: string, owner: string, now: number, leaseMs: number, deadAfterMs?: number): Promise<WebhookDelivery | null> {
    const lapsed = this.lapse(now, deadAfterMs, owner);
    return this.db.transaction().execute(async (tx) => {
      await this.dialect.lock(tx, LockSpace.webhookKey, apiKeyId);
      const next = await tx
        .selectFrom('webhook_outbox as o')
        .select('o.id')
        .where('o.api_key_id', '=', apiKeyId)
        .where((eb) => claimable(eb, now, lapsed))
        .where((eb) => eb.not(eb.exists(inFlight(eb, lapsed))))
        .orderBy('o.next_attempt_at')
        .orderBy('o.id')
        .limit(1)
        .executeTakeFirst();
      if (!next) return null;
      const row = await tx
        .updateTable('webhook_outbox as o')
        .set({ state: 'sending', claim_owner: owner, claim_until: now + leaseMs, attempts: sql<number>`attempts + 1`, updated_at: now })
        .where('o.id', '=', next.id)
        .where((eb) => claimable(eb, now, lapsed))
        .returningAll()
        .executeTakeFirst();
      return row ? toDelivery(row) : null;
    });
  }

  /**
   * When a sender should look again (for its timer), or null: the earliest due delivery of a key
   * with nothing in flight, or the earliest claim that will lapse. Keys in `exclude` are skipped.
   * With `deadAfterMs`, a claim also lapses when its owner dies, which no row can say in advance:
   * while any is in flight, look again within `deadAfterMs`.
   */
  async nextDueAt(now: number, exclude: readonly string[] = [], deadAfterMs?: number, self?: string): Promise<number | null> {
    const lapsed = this.lapse(now, deadAfterMs, self);
    let due = this.db
      .selectFrom('webhook_outbox as o')
      .select((eb) => eb.fn.min('o.next_attempt_at').as('t'))
      .where('o.state', '=', 'pending')
      .where((eb) => eb.not(eb.exists(inFlight(eb, lapsed))));
    const until = self === undefined ? sql<number>`o.claim_until` : sql<number>`CASE WHEN o.claim_owner = ${self} THEN ${now} ELSE o.claim_until END`;
    let lapse = this.db.selectFrom('webhook_outbox as o').select((eb) => eb.fn.min(until).as('t')).where('o.state', '=', 'sending');
    if (exclude.length) {
      due = due.where('o.api_key_id', 'not in', [...exclude]);
      lapse = lapse.where('o.api_key_id', 'not in', [...exclude]);
    }
    const dueAt = (await due.executeTakeFirst())?.t;
    let lapseAt = (await lapse.executeTakeFirst())?.t;
    if (deadAfterMs !== undefined && lapseAt !== null && lapseAt !== undefined) lapseAt = Math.min(Number(lapseAt), now + deadAfterMs);
    const times = [dueAt, lapseAt].filter((t) => t !== null && t !== undefined).map(Number);
    return times.length ? Math.min(...times) : null;
  }

  /** The attempt failed and another is due at `at`; false when `owner` no longer held the claim. */
  async retryLater(id: number, owner: string, at: number, error: string, now: number): Promise<boolean> {
    return this.release(id, owner, { state: 'pending', next_attempt_at: at, last_error: error, updated_at: now });
  }

  /** The delivery is over; false when `owner` no longer held the claim. */
  async finish(id: number, owner: string, state: 'delivered' | 'failed' | 'dropped', error: string | null, now: number): Promise<boolean> {
    return this.release(id, owner, { state, last_error: error, updated_at: now });
  }

  private async release(id: number, owner: string, set: { state: string; next_attempt_at?: number; last_error: string | null; updated_at: number }): Promise<boolean> {
    const r = await this.db
      .updateTable('webhook_outbox')
      .set({ ...set, claim_owner: null, claim_until: null })
      .where('id', '=', id)
      .where('state', '=', 'sending')
      .where('claim_owner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** A delivery succeeded: the run of failures is over. */
  async resetFailures(apiKeyId: string): Promise<void> {
    await this.db.updateTable('api_keys').set({ webhook_failures: 0 }).where('id', '=', apiKeyId).execute();
  }

  /** A delivery failed for good; returns true when this failure disabled the key's webhook. */
  async countFailure(apiKeyId: string): Promise<boolean> {
    // RETURNING reads this update's own result, so of many concurrent failures exactly one sees
    // the count reach the threshold.
    const r = await this.db
      .updateTable('api_keys')
      .set({
        webhook_failures: sql<number>`webhook_failures + 1`,
        webhook_disabled: sql<number>`CASE WHEN webhook_failures + 1 >= ${WEBHOOK_DISABLE_AFTER} THEN 1 ELSE webhook_disabled END`,
      })
      .where('id', '=', apiKeyId)
      .returning(['webhook_failures', 'webhook_disabled'])
      .executeTakeFirst();
    return r?.webhook_disabled === 1 && r.webhook_failures === WEBHOOK_DISABLE_AFTER;
  }

  /**
   * Delete deliveries that ended (`delivered`, `failed`, `dropped`) before `until` (housekeeping);
   * how many went. A row `pending` or `sending` is never deleted, nor one whose proactive message
   * is still in flight (its `proactive_outbox` row generating, pending, claimed or sending): that
   * delivery may run again, and its event id (`proactiveEventId`) must then
   * still be taken so the event is not queued a second time. Once a row is gone, `enqueue` of its
   * event id queues it anew.
   */
  async prune(until: number): Promise<number> {
    const r = await this.db
      .deleteFrom('webhook_outbox')
      .where('updated_at', '<', until)
      .where('state', 'in', ['delivered', 'failed', 'dropped'])
      // Uncorrelated, so evaluated once (not per row). `message_id is not null` is needed beyond
      // the rows it skips: one NULL in a NOT IN list makes the test unknown, deleting nothing.
      .where('event_id', 'not in', (eb) =>
        eb
          .selectFrom('proactive_outbox as p')
          .select(sql<string>`${sql.lit(PROACTIVE_EVENT_PREFIX)} || p.message_id`.as('event_id'))
          .where('p.state', 'in', PROACTIVE_IN_FLIGHT)
          .where('p.message_id', 'is not', null),
      )
      .executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }

  async forEvent(eventId: string) {
    return this.db.selectFrom('webhook_outbox').selectAll().where('event_id', '=', eventId).executeTakeFirst();
  }
}

type Outbox = ExpressionBuilder<Database & { o: WebhookOutboxRow }, 'o'>;
/** Whether the claim of the row under `alias` is over. */
type Lapse = (eb: ExpressionBuilder<any, any>, alias: 'o' | 'f') => Expression<SqlBool>;

/** Ready to send: due and pending, or claimed by a sender whose claim has lapsed. */
function claimable(eb: Outbox, now: number, lapsed: Lapse) {
  return eb.or([
    eb.and([eb('o.state', '=', 'pending'), eb('o.next_attempt_at', '<=', now)]),
    eb.and([eb('o.state', '=', 'sending'), lapsed(eb, 'o')]),
  ]);
}

/** Another delivery of the same key under a live claim. */
function inFlight(eb: Outbox, lapsed: Lapse) {
  return eb
    .selectFrom('webhook_outbox as f')
    .select('f.id')
    .whereRef('f.api_key_id', '=', 'o.api_key_id')
    .where('f.state', '=', 'sending')
    .where((fb) => fb.not(lapsed(fb, 'f')));
}

function toDelivery(r: Selectable<WebhookOutboxRow>): WebhookDelivery {
  return { id: r.id, eventId: r.event_id, apiKeyId: r.api_key_id, event: r.event, payload: r.payload, attempts: r.attempts, createdAt: r.created_at };
}
