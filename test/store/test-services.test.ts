import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openStore } from '../../src/store/index.js';
import { withAdmin } from '../helpers/pg-server.js';
import { testRedisClient } from '../helpers/redis-server.js';
import { hasPostgres, hasRedis, pgDatabase, redisPrefix, testServices } from '../helpers/services.js';

describe.skipIf(!hasPostgres())('pgDatabase (test helper)', () => {
  it('hands out migrated databases of their own and drops them', async () => {
    const [a, b] = await Promise.all([pgDatabase(), pgDatabase()]);
    try {
      expect(a.url).not.toBe(b.url);
      const store = await openStore(a.url);
      await store.apiKeys.create({ name: 'only in a' });
      await store.close();
      const other = await openStore(b.url);
      expect(await other.apiKeys.list()).toEqual([]);
      await other.close();
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
    const left = await withAdmin(testServices().postgres!.adminUrl, async (db) =>
      (await sql<{ n: number }>`select count(*)::int as n from pg_database where datname in (${a.name}, ${b.name})`.execute(db)).rows[0]!.n,
    );
    expect(left).toBe(0);
  });
});

describe.skipIf(!hasRedis())('redisPrefix (test helper)', () => {
  it('gives each test its own key prefix and clears only that', async () => {
    const mine = redisPrefix();
    const theirs = redisPrefix();
    expect(mine.prefix).not.toBe(theirs.prefix);
    const r = testRedisClient(mine.url);
    await r.connect();
    try {
      await r.set(`${mine.prefix}a`, '1');
      await r.set(`${mine.prefix}b`, '2');
      await r.set(`${theirs.prefix}a`, '3');
      expect(await mine.clear()).toBe(2);
      expect(await r.exists(`${mine.prefix}a`, `${mine.prefix}b`)).toBe(0);
      expect(await r.get(`${theirs.prefix}a`)).toBe('3');
    } finally {
      await theirs.clear();
      r.disconnect();
    }
  });
});
