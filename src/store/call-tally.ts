import type { DB } from './db.js';
import { prepared } from './prepared.js';

const prune = prepared((db, p: { name: string; until: number }) => db.deleteFrom('call_tally').where('name', '=', p.name).where('at', '<=', p.until));
const insert = prepared((db, p: { name: string; at: number }) => db.insertInto('call_tally').values({ name: p.name, at: p.at }));
const callsAfter = prepared((db, p: { name: string; after: number }) =>
  db.selectFrom('call_tally').select('at').where('name', '=', p.name).where('at', '>', p.after).orderBy('at').orderBy('id'),
);

/**
 * Calls a platform limits per app in a sliding window (Slack's method tiers), kept in the
 * database so that a single instance that restarts still counts what it called before it
 * stopped. A tally drops its calls older than its window whenever it records one, so it never
 * holds more than a window's worth.
 */
export class CallTallyRepo {
  constructor(private readonly db: DB) {}

  /** Record a call of `name` at `at`; the times of its calls in the `windowMs` up to `at`, oldest first, this one included. */
  async record(name: string, at: number, windowMs: number): Promise<number[]> {
    return this.db.transaction().execute(async (tx) => {
      await prune.affected(tx, { name, until: at - windowMs });
      await insert.affected(tx, { name, at });
      return (await callsAfter.rows(tx, { name, after: at - windowMs })).map((r) => Number(r.at));
    });
  }

  /** The times of the calls of `name` after `after`, oldest first. */
  async callsAfter(name: string, after: number): Promise<number[]> {
    return (await callsAfter.rows(this.db, { name, after })).map((r) => Number(r.at));
  }
}
