import type { DB } from './db.js';
import { prepared } from './prepared.js';

const prune = prepared((db, p: { name: string; until: number }) => db.deleteFrom('call_tally').where('name', '=', p.name).where('at', '<=', p.until));
const insert = prepared((db, p: { name: string; at: number }) => db.insertInto('call_tally').values({ name: p.name, at: p.at }));
const move = prepared((db, p: { name: string; from: number; to: number }) => db.updateTable('call_tally').set({ at: p.to }).where('name', '=', p.name).where('at', '=', p.from));
const callsAfter = prepared((db, p: { name: string; after: number }) =>
  db.selectFrom('call_tally').select('at').where('name', '=', p.name).where('at', '>', p.after).orderBy('at').orderBy('id'),
);

/**
 * How long a call is kept at most: longer than any tally's window (a minute, for Slack's tiers
 * and a Telegram group), so the hourly sweep never takes one a window still counts.
 */
export const CALL_KEPT_MS = 3_600_000;

/**
 * Calls a platform limits in a sliding window — per app (Slack's method tiers) or per chat (a
 * channel's or group's sends) — kept in the database so that a single instance that restarts
 * still counts what it called before it stopped. A tally drops the calls that left its window as
 * it records (once per window), so it holds about a window's worth; the calls a tally
 * left when it fell silent (a chat nobody writes in any more) go with the hourly sweep.
 */
export class CallTallyRepo {
  constructor(private readonly db: DB) {}

  /**
   * Record a call of `name` at `at`: one statement. With
   * `windowMs`, the calls that left that window by `now` are dropped as well (how often is the
   * caller's choice).
   */
  async add(name: string, at: number, windowMs?: number, now = at): Promise<void> {
    await insert.affected(this.db, { name, at });
    if (windowMs !== undefined) await prune.affected(this.db, { name, until: now - windowMs });
  }

  /**
   * Date the call of `name` at `from` at `to` instead. Calls noted at the same instant are
   * moved together: a chat has one call in flight at a time, so they could only be earlier ones
   * dated ahead onto it, and moving them later only counts them longer.
   */
  async move(name: string, from: number, to: number): Promise<void> {
    await move.affected(this.db, { name, from, to });
  }

  /** Drop every tally's calls older than {@link CALL_KEPT_MS} at `now` (housekeeping); how many went. */
  async sweep(now: number): Promise<number> {
    const r = await this.db.deleteFrom('call_tally').where('at', '<=', now - CALL_KEPT_MS).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** The times of the calls of `name` after `after`, oldest first. */
  async callsAfter(name: string, after: number): Promise<number[]> {
    return (await callsAfter.rows(this.db, { name, after })).map((r) => Number(r.at));
  }
}
