import type { DB } from './db.js';

/** Replays are honoured for this long after the first request (Stripe's window). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** A `pending` record older than this was left by a crashed process and may be taken over. */
export const IDEMPOTENCY_PENDING_LEASE_MS = 10 * 60 * 1000;

export type IdempotencyBegin =
  /** This caller owns the key now; run the request, then complete() or release(). */
  | { state: 'new' }
  /** The key finished before with the same body: return this response again. */
  | { state: 'replay'; status: number; response: unknown }
  /** The key was used with a different body. */
  | { state: 'mismatch' }
  /** The same key and body are being processed right now (by another request). */
  | { state: 'pending' };

/**
 * Idempotency-Key records per API key. The first request claims the key (`pending`), a success
 * stores its response (`done`) for 24 h; failures release the claim so a retry runs for real.
 */
export class IdempotencyRepo {
  private lastPrune = 0;

  constructor(private db: DB) {}

  /**
   * Claim `key` for this request, or say what became of it. Race-safe on any number of
   * connections: the claim is an insert that does nothing when the key exists (so of two
   * concurrent first requests one gets `new`, the other `pending`, neither an error), and taking
   * over an expired record is a compare-and-set on the record that was read.
   */
  async begin(apiKeyId: string, key: string, requestHash: string, now: number): Promise<IdempotencyBegin> {
    await this.pruneOccasionally(now);
    const fresh = { request_hash: requestHash, state: 'pending', response_status: null, response_json: null, created_at: now };
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
      const stale = row.created_at <= now - IDEMPOTENCY_TTL_MS || (row.state === 'pending' && row.created_at <= now - IDEMPOTENCY_PENDING_LEASE_MS);
      if (stale) {
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
      if (row.state !== 'done') return { state: 'pending' };
      return { state: 'replay', status: row.response_status ?? 200, response: JSON.parse(row.response_json ?? 'null') as unknown };
    }
    // Only reachable when the key keeps appearing and vanishing under us; the caller may retry.
    return { state: 'pending' };
  }

  async complete(apiKeyId: string, key: string, status: number, response: unknown): Promise<void> {
    await this.db
      .updateTable('idempotency_keys')
      .set({ state: 'done', response_status: status, response_json: JSON.stringify(response) })
      .where('api_key_id', '=', apiKeyId)
      .where('key', '=', key)
      .execute();
  }

  async release(apiKeyId: string, key: string): Promise<void> {
    await this.db.deleteFrom('idempotency_keys').where('api_key_id', '=', apiKeyId).where('key', '=', key).where('state', '=', 'pending').execute();
  }

  /** Drop expired records, at most once a minute, so the table stays the size of one day. */
  private async pruneOccasionally(now: number): Promise<void> {
    if (now - this.lastPrune < 60_000 && now >= this.lastPrune) return;
    this.lastPrune = now;
    await this.db.deleteFrom('idempotency_keys').where('created_at', '<=', now - IDEMPOTENCY_TTL_MS).execute();
  }
}
