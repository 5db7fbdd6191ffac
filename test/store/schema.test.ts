import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { isPostgresUrl, openStore } from '../../src/store/index.js';
import { describeStores } from './backends.js';

describe('openStore URLs', () => {
  it('treats postgres:// and postgresql:// as PostgreSQL, everything else as a SQLite path', () => {
    for (const u of ['postgres://u@h/db', 'postgresql://u:p@h:5433/db?sslmode=require', 'POSTGRES://h/db']) expect(isPostgresUrl(u)).toBe(true);
    for (const u of [':memory:', 'data/charbridge.db', 'file:x.db?mode=memory', '/var/lib/postgres.db']) expect(isPostgresUrl(u)).toBe(false);
  });

  it('names the server, never the password, when PostgreSQL cannot be reached', async () => {
    const err = await openStore('postgres://app:hunter2@127.0.0.1:1/charbridge').catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^DATABASE_URL: cannot connect to PostgreSQL at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/charbridge \(/);
    expect((err as Error).message).not.toContain('hunter2');
  });
});

describeStores('migrated schema', (ctx) => {
  it('reads 64-bit integers and sums as exact numbers, and refuses ones a number cannot hold', async () => {
    const q = async (text: string) => (await sql<{ v: unknown }>`${sql.raw(text)}`.execute(ctx.store.db)).rows[0]?.v;
    expect(await q(`select ${2 ** 50} as v`)).toBe(2 ** 50);
    await ctx.store.usage.record({ conversationId: 'c', characterId: 'x', promptTokens: 2 ** 30, completionTokens: 0 });
    await ctx.store.usage.record({ conversationId: 'c', characterId: 'x', promptTokens: 2 ** 30, completionTokens: 0 });
    expect((await ctx.store.usage.forConversation('c')).promptTokens).toBe(2 ** 31);
    if (ctx.backend === 'postgres') await expect(q('select 9007199254740993::int8 as v')).rejects.toThrow(/cannot hold exactly/);
  });

  it('gives every auto-assigned key a never-reused 64-bit sequence', async () => {
    const tables = ['messages', 'usage', 'updates', 'proactive_outbox', 'webhook_outbox', 'memory_facts', 'call_tally'];
    if (ctx.backend === 'sqlite') {
      const rows = (await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'table'`.execute(ctx.store.db)).rows;
      const auto = rows.filter((r) => /autoincrement/i.test(r.sql)).map((r) => r.name);
      expect(auto.sort()).toEqual([...tables].sort());
    } else {
      const rows = (
        await sql<{ table_name: string; data_type: string }>`select table_name, data_type from information_schema.columns where table_schema = current_schema() and is_identity = 'YES'`.execute(ctx.store.db)
      ).rows;
      expect(rows.map((r) => r.table_name).sort()).toEqual([...tables].sort());
      expect(new Set(rows.map((r) => r.data_type))).toEqual(new Set(['bigint']));
    }
  });

  // The full-text search tables (FTS5's own, PostgreSQL's tsvector) are each engine's index of
  // messages, not data: they are left out.
  it('uses only types both engines share (text, integer, bigint, and bytes for pictures)', async () => {
    if (ctx.backend === 'sqlite') {
      const cols = (await sql<{ type: string }>`select distinct lower(p.type) as type from sqlite_master m, pragma_table_info(m.name) p where m.type = 'table' and m.name not like 'kysely%' and m.name not like 'sqlite%' and m.name not like 'message_fts%'`.execute(ctx.store.db)).rows;
      expect(cols.map((c) => c.type).sort()).toEqual(['blob', 'integer', 'text']);
    } else {
      const cols = (
        await sql<{ type: string }>`select distinct data_type as type from information_schema.columns where table_schema = current_schema() and table_name not like 'kysely%' and table_name <> 'message_search'`.execute(ctx.store.db)
      ).rows;
      expect(cols.map((c) => c.type).sort()).toEqual(['bigint', 'bytea', 'integer', 'text']);
    }
  });
});
