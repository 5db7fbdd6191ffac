import { sql, type Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Full-text search over stored messages, for long-term memory's recall. Full-text indexes have
 * no portable spelling, so each engine gets its own, meaning the same: every message's content,
 * split into lower-case words without stemming (any language), kept current by triggers on
 * `messages` and filled with the messages already stored.
 * - SQLite: an FTS5 table over `messages` (external content, rowid = seq).
 * - PostgreSQL: `message_search` (seq, conversation, tsvector of the 'simple' configuration)
 *   with a GIN index; `fastupdate = off` so a new message is findable at once and a search never
 *   scans a pending list.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  if (s.dialect === 'sqlite') {
    await sql`create virtual table message_fts using fts5(content, content='messages', content_rowid='seq', tokenize="unicode61 remove_diacritics 2")`.execute(db);
    await createSqliteIndexTriggers(db);
    await sql`insert into message_fts(message_fts) values ('rebuild')`.execute(db);
    return;
  }
  await sql`create table message_search (
      seq bigint primary key references messages(seq) on delete cascade,
      conversation_id text not null,
      tsv tsvector not null)`.execute(db);
  await sql`create index message_search_tsv on message_search using gin (tsv) with (fastupdate = off)`.execute(db);
  await sql`create index message_search_conversation on message_search (conversation_id, seq)`.execute(db);
  await sql`create function message_search_sync() returns trigger language plpgsql as $$
    begin
      insert into message_search (seq, conversation_id, tsv) values (new.seq, new.conversation_id, to_tsvector('simple', new.content))
        on conflict (seq) do update set tsv = excluded.tsv;
      return null;
    end $$`.execute(db);
  await sql`create trigger messages_search_sync after insert or update of content on messages
    for each row execute function message_search_sync()`.execute(db);
  await sql`insert into message_search (seq, conversation_id, tsv)
    select seq, conversation_id, to_tsvector('simple', content) from messages`.execute(db);
}

/** SQLite: the triggers that index each message as it is stored, changed or deleted (043 replaces them, and its `down` restores them). */
export async function createSqliteIndexTriggers(db: Kysely<any>): Promise<void> {
  await sql`create trigger messages_fts_insert after insert on messages begin
    insert into message_fts(rowid, content) values (new.seq, new.content); end`.execute(db);
  await sql`create trigger messages_fts_delete after delete on messages begin
    insert into message_fts(message_fts, rowid, content) values ('delete', old.seq, old.content); end`.execute(db);
  await sql`create trigger messages_fts_update after update of content on messages begin
    insert into message_fts(message_fts, rowid, content) values ('delete', old.seq, old.content);
    insert into message_fts(rowid, content) values (new.seq, new.content); end`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // `down` gets no SchemaKit; of our two engines only PostgreSQL has transactional DDL.
  if (db.getExecutor().adapter.supportsTransactionalDdl) {
    await sql`drop trigger if exists messages_search_sync on messages`.execute(db);
    await sql`drop function if exists message_search_sync()`.execute(db);
    await sql`drop table if exists message_search`.execute(db);
    return;
  }
  for (const t of ['messages_fts_insert', 'messages_fts_delete', 'messages_fts_update']) await sql`drop trigger if exists ${sql.raw(t)}`.execute(db);
  await sql`drop table if exists message_fts`.execute(db);
}
