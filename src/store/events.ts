import { sql, type ExpressionBuilder } from 'kysely';
import type { DB } from './db.js';
import type { Database } from './schema.js';
import { reserveCredits } from './api-keys.js';
import { prepared } from './prepared.js';
import type { InstanceRepo } from './instances.js';

/** The owner of a released claim: no instance has this id, so the claim counts as its owner's death left it. */
const RELEASED = 'released';

const insertClaim = prepared((db, p: { platform: string; eventId: string; now: number; arrivedAt: number; payload: string | null; owner: string; chatKey: string | null }) =>
  db
    .insertInto('processed_events')
    .values({ platform: p.platform, event_id: p.eventId, state: 'processing', claimed_at: p.now, arrived_at: p.arrivedAt, payload: p.payload, owner: p.owner, chat_key: p.chatKey })
    .onConflict((oc) => oc.columns(['platform', 'event_id']).doNothing()),
);
const completeEvent = prepared((db, p: { platform: string; eventId: string }) =>
  db.updateTable('processed_events').set({ state: 'done', payload: null }).where('platform', '=', p.platform).where('event_id', '=', p.eventId),
);

export interface Claim {
  platform: string;
  eventId: string;
  /** The instance claiming it (its heartbeat says whether it is still alive). */
  owner: string;
  now: number;
  /**
   * When the message arrived, when that was before `now`: a claim tried again after a failed try
   * keeps its first try's arrival, so a message that came after it is not counted as before it.
   */
  arrivedAt?: number | undefined;
  /** An owner not seen for this long is dead: its claims may be taken over. */
  deadAfterMs: number;
  /** Claims made before instances were tracked (no owner) are taken over after this long. */
  leaseMs: number;
  /** What is needed to finish the work if this process dies (the normalized message, the API request). */
  payload?: string | null;
  /** The chat line a platform message waits in (see `unfinishedInChat`). */
  chatKey?: string | undefined;
  /**
   * The `now` of this owner's earlier tries at this claim that failed without saying whether
   * they landed (a connection dropped as the insert committed): a claim found with one of them
   * is this try's own, not a duplicate.
   */
  uncertain?: readonly number[];
}

export interface UnfinishedEvent {
  platform: string;
  eventId: string;
  /** Its owner is gone: it waits to be taken over rather than being answered now. */
  ownerGone: boolean;
  /** It arrived after the asking message (`own`), not before it (false when there is none). */
  afterOwn: boolean;
}

export interface AbandonedEvent {
  platform: string;
  eventId: string;
  payload: string;
  owner: string | null;
}

/**
 * Claimed events — platform messages and API turns — for exactly-once answers. An event is
 * claimed before any work (with what it takes to finish it) and marked done after. A claim whose
 * owner stopped heartbeating is taken over at once by a live instance; a live owner's claim is
 * never stolen, however long its turn takes.
 */
export class EventRepo {
  /** `lane`: where completions run (see `priorityLane`); `db` itself by default. */
  constructor(
    private db: DB,
    private readonly instances: InstanceRepo,
    private readonly lane: DB = db,
  ) {}

  /** True when `c.owner` now owns the event; false for a duplicate (done, or a live owner's). */
  async claim(c: Claim): Promise<boolean> {
    return (await this.claimOutcome(c)) !== 'duplicate';
  }

  /**
   * Like `claim`, and says how: `new` (first seen), `retaken` (a dead owner's claim, whose work
   * may be partly stored already) or `duplicate`. Each is one atomic statement, no transaction:
   * the common case costs a single insert.
   */
  async claimOutcome(c: Claim): Promise<'new' | 'retaken' | 'duplicate'> {
    const inserted = await insertClaim.affected(this.db, { platform: c.platform, eventId: c.eventId, now: c.now, arrivedAt: c.arrivedAt ?? c.now, payload: c.payload ?? null, owner: c.owner, chatKey: c.chatKey ?? null });
    if (inserted > 0) return 'new';
    if (c.uncertain?.length && (await this.landedEarlier(c))) return 'new';
    return (await this.takeOver(this.db, c)) ? 'retaken' : 'duplicate';
  }

  /** Whether the claim on disk is one of `c.uncertain`'s tries, still untouched. */
  private async landedEarlier(c: Claim): Promise<boolean> {
    const r = await this.db
      .selectFrom('processed_events')
      .select(['owner', 'state', 'claimed_at'])
      .where('platform', '=', c.platform)
      .where('event_id', '=', c.eventId)
      .executeTakeFirst();
    return r !== undefined && r.owner === c.owner && r.state === 'processing' && (c.uncertain ?? []).includes(Number(r.claimed_at));
  }

  /**
   * Undo claim `c` — made by a try whose commit its owner never heard of, and whose caller was
   * told it failed — if it landed: it is marked done, and `alongside` (giving back the credits
   * it reserved) runs in the same transaction, so both happen once or not at all. Only while
   * the claim is untouched (still `c.owner`'s, from that try, unfinished). True when it had landed.
   */
  async withdraw(c: Claim, alongside?: (tx: DB) => Promise<void>): Promise<boolean> {
    return this.closeWith(c.platform, c.eventId, alongside, { owner: c.owner, claimedAt: c.now });
  }

  /**
   * Claim an API turn and reserve its credits in one transaction, so a crash can neither lose a
   * reservation nor keep one without the turn that releases it. `false` when the key has too few.
   */
  async claimPaid(c: Claim, apiKeyId: string, cost: number): Promise<'claimed' | 'duplicate' | 'no-credits'> {
    return this.db.transaction().execute(async (tx) => {
      if (!(await reserveCredits(tx, apiKeyId, cost))) return 'no-credits';
      const inserted = await insertClaim.affected(tx, { platform: c.platform, eventId: c.eventId, now: c.now, arrivedAt: c.arrivedAt ?? c.now, payload: c.payload ?? null, owner: c.owner, chatKey: c.chatKey ?? null });
      if (inserted > 0) return 'claimed';
      throw new DuplicateClaim();
    }).catch((err: unknown) => {
      if (err instanceof DuplicateClaim) return 'duplicate' as const;
      throw err;
    });
  }

  async complete(platform: string, eventId: string): Promise<void> {
    await completeEvent.affected(this.lane, { platform, eventId });
  }

  /**
   * Mark an unfinished event done with `alongside` (giving back the credits a failed turn had
   * reserved) in the same transaction, so both happen exactly once: trying again after a
   * connection dropped as it committed finds it done and gives nothing back a second time, and
   * a crash before it leaves both for the recovery sweep. True when this call finished it.
   */
  async close(platform: string, eventId: string, alongside: (tx: DB) => Promise<void>): Promise<boolean> {
    return this.closeWith(platform, eventId, alongside);
  }

  /** Mark an unfinished event done (only while `only` still holds it, from that claim) with `alongside` in one transaction. */
  private async closeWith(platform: string, eventId: string, alongside?: (tx: DB) => Promise<void>, only?: { owner: string; claimedAt: number }): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      let update = tx
        .updateTable('processed_events')
        .set({ state: 'done', payload: null })
        .where('platform', '=', platform)
        .where('event_id', '=', eventId)
        .where('state', '=', 'processing');
      if (only) update = update.where('owner', '=', only.owner).where('claimed_at', '=', only.claimedAt);
      const u = await update.executeTakeFirst();
      if (Number(u.numUpdatedRows) === 0) return false;
      await alongside?.(tx);
      return true;
    });
  }

  /**
   * Give up `owner`'s claim on an unfinished event, as if its owner had died: the next recovery
   * sweep (of any instance) takes it over and answers it, reusing what was stored. Only while
   * `owner` still holds it and it is unfinished.
   */
  async release(platform: string, eventId: string, owner: string): Promise<void> {
    await this.db
      .updateTable('processed_events')
      .set({ owner: RELEASED })
      .where('platform', '=', platform)
      .where('event_id', '=', eventId)
      .where('owner', '=', owner)
      .where('state', '=', 'processing')
      .execute();
  }

  /**
   * Events whose owner died before finishing them (its heartbeat stopped; or, for claims without
   * an owner, the lease ran out), oldest first: what a live instance answers instead.
   */
  async abandoned(q: { now: number; deadAfterMs: number; leaseMs: number; limit: number; platform?: string }): Promise<AbandonedEvent[]> {
    let query = this.db
      .selectFrom('processed_events')
      .select(['platform', 'event_id', 'payload', 'owner'])
      .where('state', '=', 'processing')
      .where('payload', 'is not', null)
      .where((eb) =>
        eb.or([
          eb.and([eb('owner', 'is', null), eb('claimed_at', '<', q.now - q.leaseMs)]),
          this.instances.ownerDead(eb, 'owner', q.now - q.deadAfterMs),
        ]),
      );
    if (q.platform !== undefined) query = query.where('platform', '=', q.platform);
    // In the order the messages first arrived: a takeover moves a claim's time, and a sweep that
    // took a chat's messages over in claim order could put them back in a chat line (one Redis
    // lost meanwhile) the wrong way round.
    const rows = await query.orderBy(sql`coalesce(arrived_at, claimed_at)`).orderBy('claimed_at').limit(q.limit).execute();
    return rows.map((r) => ({ platform: r.platform, eventId: r.event_id, payload: r.payload!, owner: r.owner }));
  }

  /**
   * The unfinished messages of chat line `q.chatKey` other than message `q.own` (without one,
   * those that arrived before `q.now`), oldest first, each saying whether it arrived after that
   * one (after `q.now` when it has no claim yet) and whether its owner is gone (dead, released,
   * or an ownerless claim past its lease) so that it waits to be taken over. What a chat's line is
   * rebuilt from when Redis lost it: the messages that came before the turn that found the line
   * fresh go in front of it, those after it (a live turn from before the loss) behind it.
   */
  async unfinishedInChat(q: {
    chatKey: string;
    own?: { platform: string; eventId: string } | undefined;
    /** When the asking message arrived, for when its claim has not landed yet (its claim's own time wins: a takeover keeps the first). */
    ownArrivedAt?: number | undefined;
    now: number;
    since: number;
    deadAfterMs: number;
    leaseMs: number;
    limit: number;
  }): Promise<UnfinishedEvent[]> {
    const own = q.own;
    // Without a claim of its own yet, the asking turn comes when it arrived; with no message at
    // all, after everything.
    const ownArrival = (eb: ExpressionBuilder<Database, 'processed_events'>) =>
      own
        ? eb.fn.coalesce(
            eb.selectFrom('processed_events as p').select('p.arrived_at').where('p.platform', '=', own.platform).where('p.event_id', '=', own.eventId),
            eb.val(q.ownArrivedAt ?? q.now),
          )
        : eb.val(q.now);
    const rows = await this.db
      .selectFrom('processed_events')
      .select(['platform', 'event_id'])
      .select((eb) =>
        eb
          .case()
          .when(
            eb.or([
              eb('owner', '=', RELEASED),
              eb.and([eb('owner', 'is', null), eb('claimed_at', '<', q.now - q.leaseMs)]),
              eb.and([eb('owner', 'is not', null), this.instances.ownerDead(eb, 'owner', q.now - q.deadAfterMs)]),
            ]),
          )
          .then(1)
          .else(0)
          .end()
          .as('gone'),
      )
      // A tie with the asking message counts as after it: it was never before it.
      .select((eb) => eb.case().when('arrived_at', '>=', ownArrival(eb)).then(1).else(0).end().as('after'))
      .where('chat_key', '=', q.chatKey)
      .where('state', '=', 'processing')
      .where('arrived_at', '>=', q.since)
      .$if(own === undefined, (qb) => qb.where('arrived_at', '<', q.now))
      .$if(own !== undefined, (qb) => qb.where((eb) => eb.not(eb.and([eb('platform', '=', own!.platform), eb('event_id', '=', own!.eventId)]))))
      .orderBy('arrived_at')
      .limit(q.limit)
      .execute();
    return rows.map((r) => ({ platform: r.platform, eventId: r.event_id, ownerGone: Number(r.gone) === 1, afterOwn: Number(r.after) === 1 }));
  }

  /** An event's state (`processing` or `done`); undefined when it was never claimed (or is pruned). */
  async state(platform: string, eventId: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('processed_events').select('state').where('platform', '=', platform).where('event_id', '=', eventId).executeTakeFirst();
    return r?.state;
  }

  /** How many events are claimed and not finished (the inbox backlog). */
  async backlog(): Promise<number> {
    const r = await this.db.selectFrom('processed_events').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'processing').executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Forget finished events older than the longest platform redelivery window. */
  async prune(olderThan: number): Promise<number> {
    const r = await this.db.deleteFrom('processed_events').where('claimed_at', '<', olderThan).where('state', '=', 'done').executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Compare-and-set: the claim moves to `c.owner` only while its owner is dead (or its lease ran out). */
  private async takeOver(tx: DB, c: Claim): Promise<boolean> {
    const u = await tx
      .updateTable('processed_events')
      .set({ claimed_at: c.now, owner: c.owner })
      .where('platform', '=', c.platform)
      .where('event_id', '=', c.eventId)
      .where('state', '=', 'processing')
      .where((eb) =>
        eb.or([
          eb.and([eb('owner', 'is', null), eb('claimed_at', '<', c.now - c.leaseMs)]),
          eb.and([eb('owner', '!=', c.owner), this.instances.ownerDead(eb, 'owner', c.now - c.deadAfterMs)]),
        ]),
      )
      .executeTakeFirst();
    return Number(u.numUpdatedRows) > 0;
  }
}

class DuplicateClaim extends Error {}
