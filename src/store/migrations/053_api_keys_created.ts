import type { Kysely } from 'kysely';

/** Keys are listed a page at a time in creation order (`ApiKeyRepo.page`): one index range per page. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('api_keys_created').on('api_keys').columns(['created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_keys_created').ifExists().execute();
}
