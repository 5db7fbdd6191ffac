import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Embeddings of stored messages for memory's recall by meaning (EMBEDDINGS_MODEL): one row per
 * message, written in the background when extraction reads it, with the model that made it (a
 * changed model's vectors are never compared with another's). Vectors are little-endian
 * float32, base64 text, the same on both engines.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('memory_embeddings')
    .addColumn('seq', s.int64, (c) => c.primaryKey())
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('vector', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('memory_embeddings_conversation').on('memory_embeddings').columns(['conversation_id', 'seq']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('memory_embeddings').execute();
}
