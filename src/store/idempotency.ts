import type { DB } from './db.js';
import type { InstanceRepo } from './instances.js';

/** Replays are honoured for this long after the first request (Stripe's window). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * A `pending` record older than this was left by a crashed process (or its response's record never
 * landed): taken over, or judged by its turn when it names one (see `begin`).
 */
export const IDEMPOTENCY_PENDING_LEASE_MS = 10 * 60 * 1000;

export type IdempotencyBegin =
  /** This caller owns the key now; run the request, then complete() or release(). */
  | { state: 'new' }
  /** The key finished before with the same body: return this response again. */
  | { state: 'replay'; status: number; response: unknown }
  /** The key was used with a different body. */
  | { state: 'mismatch' }
  /** The same key and body are being processed right now (by another request). */
  | { state: 'pending' }
  /**
   * The same key and body were being processed by an instance that has died since (or the key is
   * past its pending lease): what became of its turn decides (`takeOver` to run it anew).
   */
  | { state: 'orphaned'; turnId: string | null; owner: string; createdAt: number };

/** A pending claim as one request made it: `begin`'s or `takeOver`'s `now`, and its owner's turn id. */
export interface PendingClaim {
  createdAt: number;
  turnId: string | null;
}

/** Who runs a request, so a dead runner's pending key can be told from a live one's. */
export interface IdempotencyOwner {
  /** This instance's id (its heartbeat is in `instances`). */
  instanceId: string;
  /** An instance not seen for this long is dead. */
  deadAfterMs: number;
  /** The id the request's API turn will have. */
  turnId: string;
}

/**
 * Idempotency-Key records per API key. The first request claims the key (`pending`, with the
 * instance running it and the id of its API turn), a success stores its response (`done`) for
 * 24 h; failures release the claim so a retry runs for real. A pending key whose instance died is
 * `orphaned`: the caller looks at its turn to replay, wait or take it over.
 */
export class IdempotencyRepo {
  private lastPrune = 0;

  constructor(
    private db: DB,
    private readonly instances: InstanceRepo,
  ) {}

  /**
   * Claim `key` for this request, or say what became of it. Race-safe on any number of
   * connections: the claim is an insert that does nothing when the key exists (so of two
   * concurrent first requests one gets `new`, the other `pending`, neither an error), and taking
   * over an expired record is a compare-and-set on the record that was read.
   */
  async begin(apiKeyId: string, key: string, requestHash: string, now: number, runner?: IdempotencyOwner): Promise<IdempotencyBegin> {
    await this.pruneOccasionally(now);
    const fresh = { request_hash: requestHash, state: 'pending', response_status: null, response_json: null, created_at: now, owner: runner?.instanceId ?? null, turn_id: runner?.turnId ?? null };
    for (let attempt = 1; attempt <= 5; attempt++) {
      const inserted = await this.db
        .insertInto('idempotency_keys')
        .values({ api_key_id: apiKeyId, key, ...fresh })
        .onConflict((oc) => oc.columns(['api_key_id', 'key']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return { state: 'new' };
      const row = await this.db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('api_key_id', '=', apiKeyId)
        .where('key', '=', key)
        .executeTakeFirst();
      if (!row) continue; // released between our insert and read: claim it again
      // A pending key past its lease was left by a process that died, or whose record of the
      // response never landed. One that names its turn is judged by that turn (`orphaned`): the
      // turn may have been answered (a 202 given, its reply on the feed), and running the request
      // anew would answer it twice. One that does not is simply taken over.
      const leaseOver = row.state === 'pending' && row.created_at <= now - IDEMPOTENCY_PENDING_LEASE_MS;
      const byTurn = runner !== undefined && row.owner !== null && row.turn_id !== null;
      if (row.created_at <= now - IDEMPOTENCY_TTL_MS || (leaseOver && !byTurn)) {
        const taken = await this.db
          .updateTable('idempotency_keys')
          .set(fresh)
          .where('api_key_id', '=', apiKeyId)
          .where('key', '=', key)
          .where('state', '=', row.state)
          .where('created_at', '=', row.created_at)
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) > 0) return { state: 'new' };
        continue; // someone else took it over first: look again
      }
      if (row.request_hash !== requestHash) return { state: 'mismatch' };
      if (row.state !== 'done') {
        if (row.owner && runner && ((leaseOver && byTurn) || (row.owner !== runner.instanceId && !(await this.alive(row.owner, now - runner.deadAfterMs))))) {
          return { state: 'orphaned', turnId: row.turn_id, owner: row.owner, createdAt: row.created_at };
        }
        return { state: 'pending' };
      }
      return { state: 'replay', status: row.response_status ?? 200, response: JSON.parse(row.response_json ?? 'null') as unknown };
    }
    // Only reachable when the key keeps appearing and vanishing under us; the caller may retry.
    return { state: 'pending' };
  }

  /**
   * Move an orphaned pending key to `runner` (compare-and-set on the dead owner's claim), to run
   * its request anew; false when another instance took it first.
   */
  async takeOver(apiKeyId: string, key: string, orphan: { owner: string; createdAt: number }, runner: IdempotencyOwner, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('idempotency_keys')
      .set({ created_at: now, owner: runner.instanceId, turn_id: runner.turnId })
      .where('api_key_id', '=', apiKeyId)
      .where('key', '=', key)
      .where('state', '=', 'pending')
      .where('owner', '=', orphan.owner)
      .where('created_at', '=', orphan.createdAt)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async complete(apiKeyId: string, key: string, status: number, response: unknown): Promise<void> {
    await this.db
      .updateTable('idempotency_keys')
      .set({ state: 'done', response_status: status, response_json: JSON.stringify(response) })
      .where('api_key_id', '=', apiKeyId)
      .where('key', '=', key)
      .execute();
  }

  /**
   * Forget a pending key so a retry runs for real: only the claim `mine` names (when it was
   * made, and for which turn), so a late or repeated release never frees a later request's claim.
   */
  async release(apiKeyId: string, key: string, mine: PendingClaim): Promise<void> {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('api_key_id', '=', apiKeyId)
      .where('key', '=', key)
      .where('state', '=', 'pending')
      .where('created_at', '=', mine.createdAt)
      .where((eb) => (mine.turnId === null ? eb('turn_id', 'is', null) : eb('turn_id', '=', mine.turnId)))
      .execute();
  }

  /** Delete every record created before `olderThan` (retention); returns how many. */
  async prune(olderThan: number): Promise<number> {
    const r = await this.db.deleteFrom('idempotency_keys').where('created_at', '<', olderThan).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  private async alive(instanceId: string, seenSince: number): Promise<boolean> {
    if (!this.instances.watched(seenSince) || this.instances.aliveElsewhere(seenSince).includes(instanceId)) return true;
    return this.instances.beatingSince(instanceId, seenSince);
  }

  /** Drop expired records, at most once a minute, so the table stays the size of one day. */
  private async pruneOccasionally(now: number): Promise<void> {
    if (now - this.lastPrune < 60_000 && now >= this.lastPrune) return;
    this.lastPrune = now;
    await this.db.deleteFrom('idempotency_keys').where('created_at', '<=', now - IDEMPOTENCY_TTL_MS).execute();
  }
}
