import type { Kysely } from 'kysely';

/**
 * Credits a proactive generation reserved for the API key that pays for it, recorded on its
 * outbox row in the same transaction: a generation its process did not live to settle gives
 * them back when it is found to have stored nothing, so a crash never charges a tenant for a
 * message it never got.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('proactive_outbox').addColumn('reserved_credits', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('proactive_outbox').dropColumn('reserved_credits').execute();
}
