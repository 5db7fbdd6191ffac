import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * What a usage row paid for: `turn` (a reply, as every row so far) or `memory` (a background
 * extraction). Memory rows count in token totals, never as turns, errors or credits.
 */
export async function up(db: Kysely<any>, _s: SchemaKit): Promise<void> {
  await db.schema.alterTable('usage').addColumn('kind', 'text', (c) => c.notNull().defaultTo('turn')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('usage').dropColumn('kind').execute();
}
