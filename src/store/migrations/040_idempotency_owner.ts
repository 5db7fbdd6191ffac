import type { Kysely } from 'kysely';

/**
 * A pending Idempotency-Key names the instance running its request and the API turn it started,
 * so when that instance dies a retry is answered from the turn (its stored reply), waits for the
 * turn's recovery, or runs anew — instead of being refused until a lease runs out.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('idempotency_keys').addColumn('owner', 'text').execute();
  await db.schema.alterTable('idempotency_keys').addColumn('turn_id', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('idempotency_keys').dropColumn('turn_id').execute();
  await db.schema.alterTable('idempotency_keys').dropColumn('owner').execute();
}
