import { sql, type Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Notes are listed by key prefix (every instance's gateway session note for a shard). SQLite
 * compares text bytewise, so its primary key index already serves `key >= prefix and key < end`.
 * PostgreSQL compares by the database's collation, under which a prefix's range need not hold its
 * keys (en_US ignores punctuation at first); the key compared bytewise ("C") makes the range
 * exact, and the primary key index, rebuilt with it, serves it. Equality is unchanged.
 */
export async function up(db: Kysely<any>, kit: SchemaKit): Promise<void> {
  if (kit.dialect !== 'postgres') return;
  await sql`alter table send_marks alter column key type text collate "C"`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // `down` gets no SchemaKit; of our two engines only PostgreSQL has transactional DDL.
  if (!db.getExecutor().adapter.supportsTransactionalDdl) return;
  await sql`alter table send_marks alter column key type text collate "default"`.execute(db);
}
