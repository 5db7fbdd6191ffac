import type { Kysely } from 'kysely';

/**
 * Indexes for the operator's reads, which otherwise scanned whole tables on every page load of a
 * large database (measured at 150k conversations, 600k events, 300k outbox rows and updates):
 * - `processed_events (platform, claimed_at)`: when each platform last sent an event, one probe
 *   per platform (`ActivityRepo.lastEventAt`).
 * - `proactive_outbox (updated_at, id)`: the newest proactive attempts (`recentProactive`).
 * - `updates (created_at, id)`: where a feed read by `since` starts (`UpdateRepo.list`), and
 *   housekeeping's prune by age.
 * - `conversations (updated_at desc, id)`: the conversation list in its order, newest first.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('processed_events_platform_claimed').on('processed_events').columns(['platform', 'claimed_at']).execute();
  await db.schema.createIndex('proactive_outbox_updated').on('proactive_outbox').columns(['updated_at', 'id']).execute();
  await db.schema.createIndex('updates_created').on('updates').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('conversations_updated').on('conversations').columns(['updated_at desc', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of ['processed_events_platform_claimed', 'proactive_outbox_updated', 'updates_created', 'conversations_updated']) {
    await db.schema.dropIndex(name).ifExists().execute();
  }
}
