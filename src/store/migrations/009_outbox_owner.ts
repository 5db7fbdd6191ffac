import type { Kysely } from 'kysely';

/**
 * A proactive message is claimed by the instance sending it (state `sending`, with its owner),
 * so two instances never send one row, and a crash between "sent" and "marked delivered" never
 * sends it a second time.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('proactive_outbox').addColumn('owner', 'text').execute();
}

export async function down(): Promise<void> {}
