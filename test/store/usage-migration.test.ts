import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrationsFor } from '../../src/store/migrations/index.js';

describe('migration 006_usage_details', () => {
  it('gives existing usage rows their epoch-ms time and their conversation platform', async () => {
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrationsFor('sqlite') } });
    expect((await migrator.migrateTo('005_inbox')).error).toBeUndefined();
    const at = '2026-01-02T03:04:05.678Z';
    await db
      .insertInto('conversations')
      .values({ id: 'conv_1', platform: 'discord', chat_type: 'dm', created_at: at, updated_at: at })
      .execute();
    await db
      .insertInto('usage')
      .values({ conversation_id: 'conv_1', character_id: 'c', prompt_tokens: 5, completion_tokens: 7, credits: 0, created_at: at })
      .execute();

    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    const row = await db.selectFrom('usage').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ created_ms: Date.parse(at), platform: 'discord', model: null, error_code: null });
    await db.destroy();
  });
});
