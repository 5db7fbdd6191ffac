import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/** Models a character falls back to, in order, before the configured OPENAI_FALLBACK_MODELS (a JSON list). */
export async function up(db: Kysely<any>, _s: SchemaKit): Promise<void> {
  await db.schema.alterTable('characters').addColumn('fallback_models', 'text', (c) => c.notNull().defaultTo('[]')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('characters').dropColumn('fallback_models').execute();
}
