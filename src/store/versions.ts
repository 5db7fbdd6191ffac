import type { DB } from './db.js';

/** Tables whose `updated_at` is also the version caches key what they build from a row by. */
type Versioned = 'characters' | 'lorebooks';

const ATTEMPTS = 10;

/**
 * Write `set` to row `id` of `table` with a new `updated_at`, later than the row's current one:
 * system prompts and parsed lorebooks are cached by (id, updated_at), so two versions of a row
 * must never share one. The clock can give the same millisecond twice (two edits at once, or an
 * instance whose clock is behind another's), so the stamp is at least a millisecond past the
 * one read, and written only while the row still holds that one (otherwise it is read again).
 * False when there is no such row.
 */
export async function writeNewVersion(db: DB, table: Versioned, id: string, now: number, set: Record<string, unknown>): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const row = await db.selectFrom(table).select('updated_at').where('id', '=', id).executeTakeFirst();
    if (!row) return false;
    const stamp = new Date(Math.max(now, Date.parse(row.updated_at) + 1)).toISOString();
    // A row edited this often, this fast, takes the last stamp read past: still a new one.
    const still = attempt < ATTEMPTS ? row.updated_at : undefined;
    let update = db.updateTable(table).set({ ...set, updated_at: stamp } as never).where('id', '=', id);
    if (still !== undefined) update = update.where('updated_at', '=', still);
    const r = await update.executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) return true;
  }
}
