import { sql, type Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';
import { createBatchIndexTriggers } from './043_message_search_batches.js';
import { indexedText } from '../search-terms.js';

/**
 * Recall's full-text index holds each word behind its conversation's prefix (see
 * `search-terms.ts`), so how common a word is counts within its conversation, not the whole
 * database, and a search reads that conversation's entries only.
 * - SQLite: a contentless FTS5 table (its text is the prefixed words, which `messages` does not
 *   hold), filled in batches by `RecallRepo.indexPending` as before. A delete removes the row by
 *   its rowid; an edit removes it and queues it in `message_fts_redo` for the next batch, which
 *   computes its words again (a trigger cannot: the prefix is computed in the process).
 * - PostgreSQL: the trigger's vector prefixes each lexeme (`message_search_vector`).
 * Both fill the index anew with the messages already stored.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  if (s.dialect !== 'sqlite') {
    await sql`create function message_search_vector(conversation text, content text) returns tsvector language sql immutable as $$
      select array_to_tsvector(coalesce(array_agg(left(md5(conversation), 10) || lexeme), '{}'))
      from unnest(to_tsvector('simple', content)) where length(lexeme) between 3 and 40 $$`.execute(db);
    await sql`create or replace function message_search_sync() returns trigger language plpgsql as $$
      begin
        insert into message_search (seq, conversation_id, tsv) values (new.seq, new.conversation_id, message_search_vector(new.conversation_id, new.content))
          on conflict (seq) do update set tsv = excluded.tsv;
        return null;
      end $$`.execute(db);
    await sql`update message_search s set tsv = message_search_vector(m.conversation_id, m.content) from messages m where m.seq = s.seq`.execute(db);
    return;
  }
  for (const t of ['messages_fts_delete', 'messages_fts_update']) await sql`drop trigger if exists ${sql.raw(t)}`.execute(db);
  await sql`drop table message_fts`.execute(db);
  await sql`create virtual table message_fts using fts5(words, content='', contentless_delete=1, tokenize="unicode61 remove_diacritics 2")`.execute(db);
  await sql`create table message_fts_redo (seq integer primary key)`.execute(db);
  await sql`create trigger messages_fts_delete after delete on messages
    when old.seq <= (select indexed_seq from message_fts_progress) begin
      delete from message_fts where rowid = old.seq;
      delete from message_fts_redo where seq = old.seq; end`.execute(db);
  await sql`create trigger messages_fts_update after update of content on messages
    when old.seq <= (select indexed_seq from message_fts_progress) begin
      delete from message_fts where rowid = old.seq;
      insert or ignore into message_fts_redo (seq) values (old.seq); end`.execute(db);
  let after = 0;
  for (;;) {
    const rows = await db.selectFrom('messages').select(['seq', 'conversation_id', 'content']).where('seq', '>', after).orderBy('seq').limit(500).execute();
    if (!rows.length) break;
    await sql`insert into message_fts (rowid, words) values ${sql.join(rows.map((r) => sql`(${r.seq}, ${indexedText(r.conversation_id, r.content)})`))}`.execute(db);
    after = Number(rows.at(-1)!.seq);
  }
  await sql`update message_fts_progress set indexed_seq = ${after} where id = 1`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // `down` gets no SchemaKit; of our two engines only PostgreSQL has transactional DDL.
  if (db.getExecutor().adapter.supportsTransactionalDdl) {
    await sql`create or replace function message_search_sync() returns trigger language plpgsql as $$
      begin
        insert into message_search (seq, conversation_id, tsv) values (new.seq, new.conversation_id, to_tsvector('simple', new.content))
          on conflict (seq) do update set tsv = excluded.tsv;
        return null;
      end $$`.execute(db);
    await sql`drop function if exists message_search_vector(text, text)`.execute(db);
    await sql`update message_search s set tsv = to_tsvector('simple', m.content) from messages m where m.seq = s.seq`.execute(db);
    return;
  }
  for (const t of ['messages_fts_delete', 'messages_fts_update']) await sql`drop trigger if exists ${sql.raw(t)}`.execute(db);
  await sql`drop table if exists message_fts_redo`.execute(db);
  await sql`drop table if exists message_fts`.execute(db);
  // As 036 made it and 043 left it: every message indexed, deletes and edits by trigger.
  await sql`create virtual table message_fts using fts5(content, content='messages', content_rowid='seq', tokenize="unicode61 remove_diacritics 2")`.execute(db);
  await createBatchIndexTriggers(db);
  await sql`insert into message_fts(message_fts) values ('rebuild')`.execute(db);
  await sql`update message_fts_progress set indexed_seq = coalesce((select max(seq) from messages), 0) where id = 1`.execute(db);
}
