import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/** What a character's card says its long-term memory should keep (`memoryInstructions`, optional). */
export async function up(db: Kysely<any>, _s: SchemaKit): Promise<void> {
  await db.schema.alterTable('characters').addColumn('memory_instructions', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('characters').dropColumn('memory_instructions').execute();
}
