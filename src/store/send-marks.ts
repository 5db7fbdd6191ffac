import type { Clock } from '../core/clock.js';
import type { DB } from './db.js';
import { prepared } from './prepared.js';

const upsert = prepared((db, p: { key: string; value: string; at: number }) =>
  db
    .insertInto('send_marks')
    .values({ key: p.key, value: p.value, at: p.at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: p.value, at: p.at })),
);
const read = prepared((db, p: { key: string }) => db.selectFrom('send_marks').select(['value', 'at']).where('key', '=', p.key));

/**
 * Notes adapters keep about sends in progress that the platform cannot tell about after a crash
 * (the adapters' `SendMarks`). One row per key, overwritten by the latest note; kept for as long
 * as a reply may still be sent again, then pruned by housekeeping.
 */
export class SendMarkRepo {
  constructor(
    private readonly db: DB,
    private readonly clock: Clock,
  ) {}

  /** `at`: when it was written (now by default; a mirror elsewhere passes its own, to compare). */
  async put(key: string, value: string, at = this.clock.now()): Promise<void> {
    await upsert.affected(this.db, { key, value, at });
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.noted(key))?.value;
  }

  /** The note and when it was written. */
  async noted(key: string): Promise<{ value: string; at: number } | undefined> {
    const r = await read.first(this.db, { key });
    return r && { value: r.value, at: Number(r.at) };
  }

  /** Forget notes written before `olderThan`; how many. */
  async prune(olderThan: number): Promise<number> {
    const r = await this.db.deleteFrom('send_marks').where('at', '<', olderThan).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
