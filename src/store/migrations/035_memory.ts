import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Long-term memory. Facts and the owner's state are keyed by (owner, character): the owner is
 * the conversation's scope without its thread (`telegram:-100:user:7`) or `session:<id>` for an
 * API session, so threads share a group's facts and a DM never shares a group's. Summaries and
 * extraction progress belong to one conversation (a thread keeps its own story), with the lease
 * that keeps extraction to one at a time per conversation across processes. Messages a forgotten
 * fact came from are listed so recall never brings them back.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('memory_facts')
    .$call(s.idColumn('id'))
    .addColumn('owner_key', 'text', (c) => c.notNull())
    .addColumn('character_id', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('source_seqs', 'text')
    .addColumn('created_ms', s.epochMs, (c) => c.notNull())
    .addColumn('updated_ms', s.epochMs, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('memory_facts_owner').on('memory_facts').columns(['owner_key', 'character_id', 'id']).execute();

  await db.schema
    .createTable('memory_owners')
    .addColumn('owner_key', 'text', (c) => c.notNull())
    .addColumn('character_id', 'text', (c) => c.notNull())
    // `/memory clear`: messages at or below this seq are never recalled again.
    .addColumn('recall_after_seq', s.int64, (c) => c.notNull().defaultTo(0))
    .addColumn('updated_ms', s.epochMs, (c) => c.notNull())
    .addPrimaryKeyConstraint('memory_owners_pk', ['owner_key', 'character_id'])
    .execute();

  await db.schema
    .createTable('memory_progress')
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('character_id', 'text', (c) => c.notNull())
    .addColumn('processed_seq', s.int64, (c) => c.notNull().defaultTo(0))
    .addColumn('summary', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', s.epochMs)
    .addColumn('updated_ms', s.epochMs, (c) => c.notNull())
    .addPrimaryKeyConstraint('memory_progress_pk', ['conversation_id', 'character_id'])
    .execute();

  await db.schema
    .createTable('memory_forgotten')
    .addColumn('seq', s.int64, (c) => c.primaryKey())
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['memory_forgotten', 'memory_progress', 'memory_owners', 'memory_facts']) await db.schema.dropTable(t).execute();
}
