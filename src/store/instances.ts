import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { DB } from './db.js';

/**
 * Running charbridge processes. Each heartbeats its row while it lives; claims owned by an
 * instance that stopped heartbeating are taken over by the live ones (see EventRepo).
 */
export class InstanceRepo {
  /** Instances alive by a second channel (Redis presence) and when they said so: see `seenElsewhere`. */
  private elsewhere = new Map<string, number>();
  /** From when this process's view of the others' silence counts: see `watchFrom`. */
  private watchingFrom = Number.NEGATIVE_INFINITY;

  constructor(private db: DB) {}

  /**
   * What another channel (Redis, `Coordination.presence`) last said of which instances are alive,
   * when each said so. Every judgement that an owner is dead also asks this: through a database
   * outage no instance can refresh its row, and one that sweeps first after it must not take the
   * others' claims while they still answer them. This process's knowledge, refreshed by its
   * `Liveness` independently of the database.
   */
  noteSeenElsewhere(seen: Map<string, number>): void {
    this.elsewhere = seen;
  }

  /**
   * Count the others' silence only from `at` on: this process has just started, or has just reached
   * the database again after an outage. Until `at` plus the death threshold, no owner is dead to it:
   * when the database and Redis were both away (or Redis lost its data), every row and every
   * presence went stale at once, and a live instance needs a heartbeat's time to say so again.
   */
  watchFrom(at: number): void {
    this.watchingFrom = at;
  }

  /** Whether this process watched the others since `since` (see `watchFrom`): only then is an owner silent since then dead. */
  watched(since: number): boolean {
    return since >= this.watchingFrom;
  }

  /** Instances the other channel saw since `since` (none without one). */
  aliveElsewhere(since: number): string[] {
    const ids: string[] = [];
    for (const [id, at] of this.elsewhere) if (at >= since) ids.push(id);
    return ids;
  }

  /**
   * `owner` (a column of the table being filtered) names an instance heard from by neither channel
   * since `since`: no heartbeat row as recent from an instance still running (a clean stop is dead
   * at once), and no Redis presence as recent; and this process watched for all that time
   * (`watchFrom`), or it is dead to nobody. Never `self`: a
   * process under load can miss its own heartbeat while its work still runs, and must not take
   * that work over from itself.
   */
  ownerDead(eb: ExpressionBuilder<any, any>, owner: string, since: number, self?: string): Expression<SqlBool> {
    if (!this.watched(since)) return sql<SqlBool>`1 = 0`;
    const column = eb.ref(owner);
    const notBeating = eb(column, 'not in', this.runningSince(since));
    const aliveElsewhere = this.aliveElsewhere(since);
    return eb.and([notBeating, ...(aliveElsewhere.length ? [eb(column, 'not in', aliveElsewhere)] : []), ...(self === undefined ? [] : [eb(column, '!=', self)])]);
  }

  async register(id: string, now: number): Promise<void> {
    await this.db
      .insertInto('instances')
      .values({ id, started_at: now, seen_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet({ seen_at: now, stopped_at: null }))
      .execute();
  }

  async beat(id: string, now: number): Promise<void> {
    await this.db.updateTable('instances').set({ seen_at: now }).where('id', '=', id).execute();
  }

  /**
   * A clean stop: its claims are finished, and others need not wait for its heartbeat to age (a
   * stopped owner is dead at once). The row stays, so `ranSince` still sees this instance.
   */
  async stop(id: string, now: number): Promise<void> {
    await this.db.updateTable('instances').set({ seen_at: now, stopped_at: now }).where('id', '=', id).execute();
  }

  /** Remove every instance but `id` (they are known to have stopped); how many there were. */
  async removeOthers(id: string): Promise<number> {
    const r = await this.db.deleteFrom('instances').where('id', '<>', id).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Instances still running and seen since `since`. */
  async live(since: number): Promise<string[]> {
    return (await this.runningSince(since).execute()).map((r) => r.id);
  }

  /** Whether instance `id` still runs and was seen since `since` (by its database heartbeat alone). */
  async beatingSince(id: string, since: number): Promise<boolean> {
    return (await this.runningSince(since).where('id', '=', id).executeTakeFirst()) !== undefined;
  }

  /** The ids of instances still running (not stopped cleanly) that heartbeat since `since`. */
  private runningSince(since: number) {
    return this.db.selectFrom('instances').select('id').where('seen_at', '>=', since).where('stopped_at', 'is', null);
  }

  /**
   * Instances that ran at some time since `since`, stopped cleanly since then or not: what a
   * process that finds Redis empty asks to tell a Redis that lost its counts from a new deployment.
   */
  async ranSince(since: number): Promise<string[]> {
    return (await this.db.selectFrom('instances').select('id').where('seen_at', '>=', since).execute()).map((r) => r.id);
  }

  /** Forget instances dead for long (their rows only help tell recent deaths apart). */
  async prune(olderThan: number): Promise<void> {
    await this.db.deleteFrom('instances').where('seen_at', '<', olderThan).execute();
  }
}
