import type { DB } from './db.js';

/**
 * Running charbridge processes. Each heartbeats its row while it lives; claims owned by an
 * instance that stopped heartbeating are taken over by the live ones (see EventRepo).
 */
export class InstanceRepo {
  constructor(private db: DB) {}

  async register(id: string, now: number): Promise<void> {
    await this.db
      .insertInto('instances')
      .values({ id, started_at: now, seen_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet({ seen_at: now }))
      .execute();
  }

  async beat(id: string, now: number): Promise<void> {
    await this.db.updateTable('instances').set({ seen_at: now }).where('id', '=', id).execute();
  }

  /** A clean stop: its claims are finished, and others need not wait for its heartbeat to age. */
  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('instances').where('id', '=', id).execute();
  }

  /** Remove every instance but `id` (they are known to have stopped); how many there were. */
  async removeOthers(id: string): Promise<number> {
    const r = await this.db.deleteFrom('instances').where('id', '<>', id).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Instances seen since `since`. */
  async live(since: number): Promise<string[]> {
    return (await this.db.selectFrom('instances').select('id').where('seen_at', '>=', since).execute()).map((r) => r.id);
  }

  /** Forget instances dead for long (their rows only help tell recent deaths apart). */
  async prune(olderThan: number): Promise<void> {
    await this.db.deleteFrom('instances').where('seen_at', '<', olderThan).execute();
  }
}
