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
// Keys compare bytewise on both engines (049), so a prefix's keys are exactly this range.
const listed = prepared((db, p: { from: string; to: string }) =>
  db.selectFrom('send_marks').select(['key', 'value']).where('key', '>=', p.from).where('key', '<', p.to).orderBy('key'),
);
const forgotten = prepared((db, p: { key: string }) => db.deleteFrom('send_marks').where('key', '=', p.key));

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

  /** Every note whose key starts with `prefix`, by key. */
  async list(prefix: string): Promise<Array<{ key: string; value: string }>> {
    return listed.rows(this.db, { from: prefix, to: prefixEnd(prefix) });
  }

  async forget(key: string): Promise<void> {
    await forgotten.affected(this.db, { key });
  }

  /** Forget notes written before `olderThan`; how many. */
  async prune(olderThan: number): Promise<number> {
    const r = await this.db.deleteFrom('send_marks').where('at', '<', olderThan).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

/** The first key after every key that starts with `prefix` (bytewise; UTF-16 order agrees for the ASCII keys adapters use). */
function prefixEnd(prefix: string): string {
  if (!prefix) throw new Error('a note prefix cannot be empty');
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
