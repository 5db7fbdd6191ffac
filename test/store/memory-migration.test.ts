import { Migrator, type Migration } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrationsFor } from '../../src/store/migrations/index.js';
import type { DialectName } from '../../src/store/index.js';
import { hasPostgres } from '../helpers/services.js';
import { openTestStore } from './backends.js';

const provider = (d: DialectName) => ({ getMigrations: async (): Promise<Record<string, Migration>> => migrationsFor(d) });

/** Memory's migrations roll back and forward, and the search indexes messages stored before it existed. */
describe.each(['sqlite', 'postgres'] as const)('memory migrations [%s]', (backend) => {
  it.skipIf(backend === 'postgres' && !hasPostgres())('roll back to 030, then index the messages stored meanwhile when applied again', async () => {
    const { store, db: pgDb } = await openTestStore(backend);
    try {
      const conv = await store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: null, characterId: null });
      const migrator = new Migrator({ db: store.db, provider: provider(backend) });
      expect((await migrator.migrateTo('030_webhook_claims')).error).toBeUndefined();
      await store.db
        .insertInto('messages')
        .values({ id: 'm1', conversation_id: conv.id, role: 'user', kind: 'user', content: 'an old note about the lighthouse', token_count: 5, created_at: new Date().toISOString() })
        .execute();
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      expect(await store.recall.rareWords(conv.id, ['lighthouse'])).toEqual(['lighthouse']);
    } finally {
      await store.close();
      await pgDb?.drop();
    }
  });
});
