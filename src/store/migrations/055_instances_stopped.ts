import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * A clean stop keeps its instance's row, marked stopped, instead of deleting it: its claims are
 * free at once as before (a stopped owner is dead), and the row still says an instance ran here
 * until that moment. A process that finds Redis empty asks exactly that (did another instance run
 * within a rate window?) to tell a Redis that lost its counts from a new deployment.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema.alterTable('instances').addColumn('stopped_at', s.epochMs).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('stopped_at').execute();
}
