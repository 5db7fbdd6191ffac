import { sql, type Selectable } from 'kysely';
import type { DB } from './db.js';
import { prepared } from './prepared.js';
import type { InstanceRepo } from './instances.js';
import { reserveCredits, type ApiKeyRepo } from './api-keys.js';
import type { ProactiveOutboxRow } from './schema.js';

/** Outbox states of an attempt not yet over: its delivery may still run (again). */
export const PROACTIVE_IN_FLIGHT = ['generating', 'pending', 'claimed', 'sending'];

const proactiveOf = prepared((db, p: { conversationId: string }) =>
  db
    .selectFrom('conversations')
    .select(['id', 'proactive_enabled', 'proactive_policy', 'proactive_next_at', 'proactive_unanswered', 'proactive_last_at', 'proactive_day', 'proactive_day_count', 'proactive_lease_until'])
    .where('id', '=', p.conversationId),
);
const scheduleNext = prepared((db, p: { conversationId: string; nextAt: number | null }) =>
  db.updateTable('conversations').set({ proactive_next_at: p.nextAt }).where('id', '=', p.conversationId),
);
const scheduleAnswered = prepared((db, p: { conversationId: string; nextAt: number | null }) =>
  db.updateTable('conversations').set({ proactive_next_at: p.nextAt, proactive_unanswered: 0 }).where('id', '=', p.conversationId),
);

/**
 * Re-time a conversation only while what the new time was computed from is still what is stored
 * (its settings and when it last sent one): one statement where a read and a write were.
 */
const scheduleIfUnchanged = (reset: boolean) =>
  prepared((db, p: { conversationId: string; nextAt: number | null; enabled: number | null; policy: string | null; lastAt: number | null }) =>
    db
      .updateTable('conversations')
      .set(reset ? { proactive_next_at: p.nextAt, proactive_unanswered: 0 } : { proactive_next_at: p.nextAt })
      .where('id', '=', p.conversationId)
      .where('proactive_enabled', 'is not distinct from', p.enabled)
      .where('proactive_policy', 'is not distinct from', p.policy)
      .where('proactive_last_at', 'is not distinct from', p.lastAt),
  );
const scheduleNextIfUnchanged = scheduleIfUnchanged(false);
const scheduleAnsweredIfUnchanged = scheduleIfUnchanged(true);

/** A conversation's proactive settings as stored: null fields fall back to the defaults. */
export interface ProactiveRecord {
  conversationId: string;
  enabled: boolean | null;
  policy: Partial<ProactivePolicyOverrides>;
  /** `policy` as stored (compared, not parsed, by `scheduleIfUnchanged`). */
  policyText: string | null;
  nextAt: number | null;
  unanswered: number;
  lastAt: number | null;
  day: string | null;
  dayCount: number;
  leaseUntil: number | null;
}

export interface ProactivePolicyOverrides {
  minIdleMinutes: number;
  minGapMinutes: number;
  dailyCap: number;
  maxUnanswered: number;
  quietHours: { start: string; end: string; timezone: string } | null;
}

export interface OutboxRow {
  id: number;
  conversationId: string;
  /** The instance generating it (`generating`), or that will send or is sending it. */
  owner?: string | null;
  messageId: string | null;
  state: string;
  attempts: number;
  nextAttemptAt: number;
  forced: boolean;
  createdAt: number;
}

/**
 * Proactive state and the delivery outbox. The due query is a range scan on the
 * `proactive_next_at` index; claims are compare-and-set leases, so two schedulers on one
 * database never take the same conversation.
 */
export class ProactiveRepo {
  constructor(
    private db: DB,
    private readonly instances: InstanceRepo,
    private readonly credits: Pick<ApiKeyRepo, 'release'>,
  ) {}

  async get(conversationId: string, within: DB = this.db): Promise<ProactiveRecord | undefined> {
    const r = await proactiveOf.first(within, { conversationId });
    if (!r) return undefined;
    return {
      conversationId: r.id,
      enabled: r.proactive_enabled === null ? null : r.proactive_enabled === 1,
      policy: r.proactive_policy ? (JSON.parse(r.proactive_policy) as Partial<ProactivePolicyOverrides>) : {},
      policyText: r.proactive_policy,
      nextAt: r.proactive_next_at,
      unanswered: r.proactive_unanswered,
      lastAt: r.proactive_last_at,
      day: r.proactive_day,
      dayCount: r.proactive_day_count,
      leaseUntil: r.proactive_lease_until,
    };
  }

  async setSettings(conversationId: string, s: { enabled?: boolean | null; policy?: Partial<ProactivePolicyOverrides> }): Promise<void> {
    await this.db
      .updateTable('conversations')
      .set({
        ...(s.enabled !== undefined ? { proactive_enabled: s.enabled === null ? null : s.enabled ? 1 : 0 } : {}),
        ...(s.policy !== undefined ? { proactive_policy: JSON.stringify(s.policy) } : {}),
      })
      .where('id', '=', conversationId)
      .execute();
  }

  /** After the user speaks: no longer unanswered, and the idle clock restarts at `nextAt`. */
  async schedule(conversationId: string, nextAt: number | null, opts: { resetUnanswered?: boolean } = {}, within: DB = this.db): Promise<void> {
    await (opts.resetUnanswered ? scheduleAnswered : scheduleNext).affected(within, { conversationId, nextAt });
  }

  /**
   * `schedule`, only if the conversation's settings and last proactive time are still those of
   * `seen` (a record read earlier); false when anything changed (or the conversation is gone), and
   * nothing was written.
   */
  async scheduleIfUnchanged(seen: ProactiveRecord, nextAt: number | null, opts: { resetUnanswered?: boolean } = {}, within: DB = this.db): Promise<boolean> {
    const enabled = seen.enabled === null ? null : seen.enabled ? 1 : 0;
    const q = opts.resetUnanswered ? scheduleAnsweredIfUnchanged : scheduleNextIfUnchanged;
    return (await q.affected(within, { conversationId: seen.conversationId, nextAt, enabled, policy: seen.policyText, lastAt: seen.lastAt })) > 0;
  }

  /** Conversations whose next proactive time has come, soonest first (index range scan). */
  async due(now: number, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('conversations')
      .select('id')
      .where('proactive_next_at', '<=', now)
      .where('proactive_next_at', 'is not', null)
      .orderBy('proactive_next_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Take the conversation's lease; false when another scheduler holds a live one. With
   * `deadAfterMs`, owners are instances that heartbeat, and a lease whose owner stopped is taken
   * at once rather than after it runs out.
   */
  async claim(conversationId: string, owner: string, now: number, leaseMs: number, deadAfterMs?: number): Promise<boolean> {
    const r = await this.db
      .updateTable('conversations')
      .set({ proactive_lease_until: now + leaseMs, proactive_lease_owner: owner })
      .where('id', '=', conversationId)
      .where((eb) =>
        eb.or([
          eb('proactive_lease_until', 'is', null),
          eb('proactive_lease_until', '<', now),
          eb('proactive_lease_owner', '=', owner),
          ...(deadAfterMs !== undefined ? [this.instances.ownerDead(eb, 'proactive_lease_owner', now - deadAfterMs)] : []),
        ]),
      )
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async release(conversationId: string, owner: string): Promise<void> {
    await this.db
      .updateTable('conversations')
      .set({ proactive_lease_until: null, proactive_lease_owner: null })
      .where('id', '=', conversationId)
      .where('proactive_lease_owner', '=', owner)
      .execute();
  }

  /**
   * Count a sent proactive message: one more unanswered, one more today, and when. `ifLastBefore`:
   * only if no proactive message was counted since then (a recovered one may have been already).
   */
  async recordSent(conversationId: string, now: number, day: string, nextAt: number | null, opts: { ifLastBefore?: number } = {}, within: DB = this.db): Promise<void> {
    const { ifLastBefore } = opts;
    await within
      .updateTable('conversations')
      .set({
        proactive_last_at: now,
        proactive_unanswered: sql<number>`proactive_unanswered + 1`,
        proactive_day_count: sql<number>`CASE WHEN proactive_day = ${day} THEN proactive_day_count + 1 ELSE 1 END`,
        proactive_day: day,
        proactive_next_at: nextAt,
      })
      .where('id', '=', conversationId)
      .$if(ifLastBefore !== undefined, (q) => q.where((eb) => eb.or([eb('proactive_last_at', 'is', null), eb('proactive_last_at', '<', ifLastBefore!)])))
      .execute();
  }

  /**
   * A new generation of `owner`'s (a `generating` row), taken over by another instance once its
   * lease (`leaseMs`) runs out if not before. Only while `owner` still holds the conversation's
   * lease (renewed here; another instance may have taken it, judging `owner` dead): else
   * `lease-lost`. With `pay`, the paying key's credits are reserved in the same transaction and
   * recorded on the row: `no-credits` when the key has too few.
   */
  async addGeneration(conversationId: string, now: number, forced: boolean, owner: string, leaseMs: number, pay?: { apiKeyId: string; cost: number }): Promise<number | 'no-credits' | 'lease-lost'> {
    return this.db.transaction().execute(async (tx) => {
      // Renewing the lease also locks the conversation's row until this transaction ends, so a
      // takeover waits for the row this adds, and then settles it before making another.
      const renewed = await tx
        .updateTable('conversations')
        .set({ proactive_lease_until: now + leaseMs })
        .where('id', '=', conversationId)
        .where('proactive_lease_owner', '=', owner)
        .executeTakeFirst();
      if (Number(renewed.numUpdatedRows) === 0) return 'lease-lost';
      if (pay && !(await reserveCredits(tx, pay.apiKeyId, pay.cost))) return 'no-credits';
      const r = await tx
        .insertInto('proactive_outbox')
        .values({ conversation_id: conversationId, message_id: null, state: 'generating', attempts: 0, next_attempt_at: now + leaseMs, error: null, forced: forced ? 1 : 0, created_at: now, updated_at: now, owner, reserved_credits: pay?.cost ?? 0 })
        .returning('id')
        .executeTakeFirstOrThrow();
      return r.id;
    });
  }

  /** A new outbox row in `state` (a generation is added by `addGeneration`). */
  async addOutbox(conversationId: string, state: string, now: number, forced: boolean, messageId: string | null = null): Promise<number> {
    const r = await this.db
      .insertInto('proactive_outbox')
      .values({ conversation_id: conversationId, message_id: messageId, state, attempts: 0, next_attempt_at: now, error: null, forced: forced ? 1 : 0, created_at: now, updated_at: now, owner: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    return r.id;
  }

  async updateOutbox(id: number, patch: OutboxPatch, now: number): Promise<void> {
    await this.db.updateTable('proactive_outbox').set(outboxSet(patch, now)).where('id', '=', id).execute();
  }

  /**
   * End a generation: the row leaves `generating` for `patch.state`. False when it is no longer
   * generating, or no longer `owner`'s (another instance judged it dead and took it over).
   * Without `owner`: the caller holds the conversation's lease, taken from a dead owner.
   * The credits the generation reserved are charged when it stored a message (`messageId`), and
   * given back to the conversation's key otherwise, in the same transaction: exactly once.
   */
  async settleGeneration(
    id: number,
    owner: string | undefined,
    patch: { state: string; messageId?: string; nextAttemptAt?: number; error?: string },
    now: number,
    then?: (tx: DB) => Promise<void>,
    within?: DB,
  ): Promise<boolean> {
    // With what the outcome changes in the conversation (counted as sent, or timed again), in one
    // transaction: a crash or a dropped connection between the two would leave a message
    // delivered but not counted, and the conversation due again at once. `within`: a transaction
    // already open (the generated message's own), which this joins.
    const run = async (tx: DB) => {
      const before = await tx
        .selectFrom('proactive_outbox as o')
        .innerJoin('conversations as c', 'c.id', 'o.conversation_id')
        .select(['o.reserved_credits', 'c.owner_id'])
        .where('o.id', '=', id)
        .executeTakeFirst();
      const held = await this.settle(tx, id, owner, patch, now);
      if (!held) return false;
      if (before && before.reserved_credits > 0 && before.owner_id && patch.messageId === undefined) await this.credits.release(before.owner_id, before.reserved_credits, tx);
      if (then) await then(tx);
      return true;
    };
    return within ? run(within) : this.db.transaction().execute(run);
  }

  private async settle(db: DB, id: number, owner: string | undefined, patch: { state: string; messageId?: string; nextAttemptAt?: number; error?: string }, now: number): Promise<boolean> {
    const r = await db
      .updateTable('proactive_outbox')
      .set({
        updated_at: now,
        state: patch.state,
        owner: null,
        reserved_credits: 0,
        ...(patch.messageId !== undefined ? { message_id: patch.messageId } : {}),
        ...(patch.nextAttemptAt !== undefined ? { next_attempt_at: patch.nextAttemptAt } : {}),
        ...(patch.error !== undefined ? { error: patch.error } : {}),
      })
      .where('id', '=', id)
      .where('state', '=', 'generating')
      .$if(owner !== undefined, (q) => q.where('owner', '=', owner!))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The conversation's newest generation not settled yet, if any. */
  async openGeneration(conversationId: string): Promise<OutboxRow | undefined> {
    const r = await this.db
      .selectFrom('proactive_outbox')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('state', '=', 'generating')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r && outboxRow(r);
  }

  /**
   * Generations whose process stopped: past their lease (`next_attempt_at`), or, with
   * `deadAfterMs`, held by an instance no longer heard from (never `self`).
   */
  async stalledGenerations(now: number, deadAfterMs: number | undefined, limit: number, self?: string): Promise<OutboxRow[]> {
    const rows = await this.db
      .selectFrom('proactive_outbox')
      .selectAll()
      .where('state', '=', 'generating')
      .where((eb) =>
        eb.or([
          eb('next_attempt_at', '<=', now),
          ...(deadAfterMs !== undefined ? [eb.and([eb('owner', 'is not', null), this.instances.ownerDead(eb, 'owner', now - deadAfterMs, self)])] : []),
        ]),
      )
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    return rows.map(outboxRow);
  }

  /** Outbox rows in `states` whose time has come (pending deliveries, stale generations). */
  async outboxDue(states: string[], now: number, limit: number): Promise<OutboxRow[]> {
    const rows = await this.db
      .selectFrom('proactive_outbox')
      .selectAll()
      .where('state', 'in', states)
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    return rows.map(outboxRow);
  }

  /**
   * Take a pending delivery for `owner` (compare-and-set to `claimed`: this instance will send it,
   * nothing has left yet); false when another instance took it, or it is no longer pending.
   */
  async claimOutbox(id: number, owner: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('proactive_outbox')
      .set({ state: 'claimed', owner, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * `owner`'s claimed delivery is about to make its first platform call: from now on a crash leaves
   * it unknown whether it arrived. False when `owner` no longer holds it (another instance judged it
   * dead and took it back). Safe to repeat.
   */
  async startSending(id: number, owner: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('proactive_outbox')
      .set({ state: 'sending', updated_at: now })
      .where('id', '=', id)
      .where('owner', '=', owner)
      .where('state', 'in', ['claimed', 'sending'])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Deliveries held by instances that stopped heartbeating: `claimed` ones never began leaving;
   * of `sending` ones it is unknown whether they went out. With `self`, also that instance's own,
   * which only it can tell in flight or left behind.
   */
  async leftUnfinished(now: number, deadAfterMs: number, limit: number, self?: string): Promise<Array<{ id: number; conversationId: string; attempts: number; state: 'claimed' | 'sending'; owner: string | null }>> {
    const rows = await this.db
      .selectFrom('proactive_outbox')
      .select(['id', 'conversation_id', 'attempts', 'state', 'owner'])
      .where('state', 'in', ['claimed', 'sending'])
      .where((eb) => eb.or([eb('owner', 'is', null), this.instances.ownerDead(eb, 'owner', now - deadAfterMs, self), ...(self === undefined ? [] : [eb('owner', '=', self)])]))
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, conversationId: r.conversation_id, attempts: r.attempts, state: r.state === 'claimed' ? 'claimed' : 'sending', owner: r.owner }));
  }

  /**
   * Delete finished outbox rows (delivered, failed, uncertain, nothing, abandoned, skipped,
   * error) last changed before `until`; rows still in flight are never touched. Nothing reads a
   * finished row but the console's recent sends; returns how many went.
   */
  async pruneOutbox(until: number): Promise<number> {
    const r = await this.db
      .deleteFrom('proactive_outbox')
      .where('updated_at', '<', until)
      .where('state', 'not in', PROACTIVE_IN_FLIGHT)
      .executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }

  /**
   * Take back a delivery `leftUnfinished` listed, only while it is still as listed (the same state
   * and owner): its delivery may have ended since, and a delivered row must not be sent again.
   * False when it changed.
   */
  async takeBack(row: { id: number; state: string; owner: string | null }, patch: OutboxPatch & { state: string }, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('proactive_outbox')
      .set(outboxSet(patch, now))
      .where('id', '=', row.id)
      .where('state', '=', row.state)
      .where((eb) => (row.owner === null ? eb('owner', 'is', null) : eb('owner', '=', row.owner)))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async outboxFor(conversationId: string): Promise<Array<{ id: number; state: string; messageId: string | null; attempts: number; error: string | null }>> {
    const rows = await this.db
      .selectFrom('proactive_outbox')
      .select(['id', 'state', 'message_id', 'attempts', 'error'])
      .where('conversation_id', '=', conversationId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, state: r.state, messageId: r.message_id, attempts: r.attempts, error: r.error }));
  }
}

function outboxRow(r: Selectable<ProactiveOutboxRow>): OutboxRow {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    owner: r.owner,
    messageId: r.message_id,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    forced: r.forced === 1,
    createdAt: r.created_at,
  };
}

/** What an outbox row's update may change. */
type OutboxPatch = { state?: string; messageId?: string | null; attempts?: number; nextAttemptAt?: number; error?: string | null };

/** The columns `patch` sets, with the row's update time. */
function outboxSet(patch: OutboxPatch, now: number) {
  return {
    updated_at: now,
    ...(patch.state !== undefined ? { state: patch.state } : {}),
    ...(patch.messageId !== undefined ? { message_id: patch.messageId } : {}),
    ...(patch.attempts !== undefined ? { attempts: patch.attempts } : {}),
    ...(patch.nextAttemptAt !== undefined ? { next_attempt_at: patch.nextAttemptAt } : {}),
    ...(patch.error !== undefined ? { error: patch.error } : {}),
  };
}
