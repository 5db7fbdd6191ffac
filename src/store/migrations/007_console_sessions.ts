import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Web console sign-ins. Only a SHA-256 of the session token is stored, so a copy of the database
 * cannot be replayed as a cookie. Times are epoch ms (bigint); expired rows are swept on sign-in.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('console_sessions')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('key_check', 'text', (c) => c.notNull())
    .addColumn('created_at', s.epochMs, (c) => c.notNull())
    .addColumn('expires_at', s.epochMs, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('console_sessions_expires').on('console_sessions').column('expires_at').execute();
  await db.schema.createIndex('console_sessions_key').on('console_sessions').column('key_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('console_sessions').execute();
}
