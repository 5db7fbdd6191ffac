import { sql, type Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';
import { createSqliteIndexTriggers } from './036_message_search.js';

/**
 * SQLite's full-text index of messages is filled in batches instead of by a trigger on every
 * insert: indexing one message at a time doubled the cost of the commit that stored it (FTS5
 * writes a new segment per transaction), while a batch of 64 costs about 3 µs a message.
 * `message_fts_progress.indexed_seq` is how far the index holds every message; it is exact
 * because SQLite has one writer at a time, so seqs commit in order. The delete and update
 * triggers touch the index only for messages it already holds (an FTS5 'delete' of a row it
 * never indexed would corrupt it). `RecallRepo.indexPending` runs the batches.
 *
 * PostgreSQL keeps its trigger: identity values do not commit in order there, so a cursor could
 * pass a message a slower transaction is still writing, and the indexing costs the database
 * server, not the process running the turn.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  if (s.dialect !== 'sqlite') return;
  await sql`create table message_fts_progress (id integer primary key check (id = 1), indexed_seq integer not null)`.execute(db);
  await sql`insert into message_fts_progress (id, indexed_seq) select 1, coalesce(max(seq), 0) from messages`.execute(db);
  await sql`drop trigger messages_fts_insert`.execute(db);
  await sql`drop trigger messages_fts_delete`.execute(db);
  await sql`drop trigger messages_fts_update`.execute(db);
  await createBatchIndexTriggers(db);
}

/** SQLite: the delete and edit triggers of the batch-filled index (050 replaces them, and its `down` restores them). */
export async function createBatchIndexTriggers(db: Kysely<any>): Promise<void> {
  await sql`create trigger messages_fts_delete after delete on messages
    when old.seq <= (select indexed_seq from message_fts_progress) begin
      insert into message_fts(message_fts, rowid, content) values ('delete', old.seq, old.content); end`.execute(db);
  await sql`create trigger messages_fts_update after update of content on messages
    when old.seq <= (select indexed_seq from message_fts_progress) begin
      insert into message_fts(message_fts, rowid, content) values ('delete', old.seq, old.content);
      insert into message_fts(rowid, content) values (new.seq, new.content); end`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // `down` gets no SchemaKit; only PostgreSQL has transactional DDL, and there `up` did nothing.
  if (db.getExecutor().adapter.supportsTransactionalDdl) return;
  for (const t of ['messages_fts_delete', 'messages_fts_update']) await sql`drop trigger if exists ${sql.raw(t)}`.execute(db);
  await createSqliteIndexTriggers(db);
  await sql`drop table if exists message_fts_progress`.execute(db);
  await sql`insert into message_fts(message_fts) values ('rebuild')`.execute(db);
}
