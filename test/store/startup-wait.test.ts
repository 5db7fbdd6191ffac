/**
 * A deployment starts its parts together, and charbridge may come up before its PostgreSQL: the
 * store then waits for the server (STARTUP_WAIT_MS) instead of failing the start, and fails at
 * once on what waiting cannot fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { connect } from '../../src/store/db.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createDatabase, databaseUrl, postgresBinDir, startPostgres, type PostgresServer } from '../helpers/pg-server.js';
import { freePort } from '../helpers/ports.js';
import { recordingWait } from '../helpers/startup-wait.js';

const bin = postgresBinDir();
describe.skipIf(!bin)('opening the store while PostgreSQL is not up yet', () => {
  let server: PostgresServer;
  let url: string;
  const stores: Store[] = [];
  beforeAll(async () => {
    server = await startPostgres(bin!);
    url = await createDatabase(server.adminUrl, 'startup');
  }, 60_000);
  afterAll(async () => {
    for (const s of stores) await s.close();
    await server?.stop();
  });

  it('waits for the server to start, then opens and migrates', async () => {
    const down = server.crash!(1500);
    // The server is stopping or stopped when the open begins.
    await new Promise((r) => setTimeout(r, 300));
    const wait = recordingWait(30_000);
    const store = await openStore(url, undefined, { startupWait: wait });
    stores.push(store);
    await down;
    expect(wait.warnings).toHaveLength(1);
    expect(wait.warnings[0]).toMatch(/^PostgreSQL at postgres:\/\/.*\/.* \(DATABASE_URL\) does not answer yet; start-up waits up to 30 s/);
    const conv = await store.conversations.getOrCreateByScope('telegram:1:chat:1', { platform: 'telegram', chatType: 'dm' });
    expect((await store.conversations.getByScope('telegram:1:chat:1'))?.id).toBe(conv.id);
  }, 60_000);

  it('waits out a restart while the schema is brought up to date, and runs the migrations again', async () => {
    const lockUrl = await createDatabase(server.adminUrl, 'startup_lock');
    const { db: admin } = connect(lockUrl);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    try {
      // Another session holds the migration lock, so the migration waits for it, mid-way.
      let holding!: () => void;
      const held = new Promise<void>((r) => (holding = r));
      const holder = admin.connection().execute(async (c) => {
        await sql`select pg_advisory_lock(3853314791062309107)`.execute(c);
        holding();
        await released;
        await sql`select pg_advisory_unlock(3853314791062309107)`.execute(c);
      });
      await held;
      const waiter = async (not?: number) => {
        for (;;) {
          const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = 'startup_lock' and wait_event_type = 'Lock' and pid <> coalesce(${not ?? null}::int, 0)`.execute(admin);
          if (rows[0]) return rows[0].pid;
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const wait = recordingWait(30_000);
      const opening = openStore(lockUrl, undefined, { startupWait: wait });
      opening.catch(() => undefined);
      // The server drops the migrating connection as a restart does (57P01).
      const first = await waiter();
      await sql`select pg_terminate_backend(${first})`.execute(admin);
      // Tried again on a new connection, which waits for the lock in turn (the open must not fail
      // meanwhile); then the lock is free.
      await Promise.race([waiter(first), opening.then(() => Promise.reject(new Error('opened while the lock was held')))]);
      release();
      await holder;
      const store = await opening;
      stores.push(store);
      expect(wait.warnings).toHaveLength(1);
      expect(await store.pendingMigrations()).toEqual([]);
    } finally {
      release();
      await admin.destroy();
    }
  }, 60_000);

  it('does not wait for a database that does not exist', async () => {
    const wait = recordingWait(30_000);
    const err = (await openStore(databaseUrl(server.adminUrl, 'no_such_database'), undefined, { startupWait: wait }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^DATABASE_URL: cannot connect to PostgreSQL at .*no_such_database \(database "no_such_database" does not exist\)/);
    expect(wait.warnings).toEqual([]);
  });

  it('gives up after STARTUP_WAIT_MS on a server that never comes, naming the variable', async () => {
    const wait = recordingWait(1000);
    const nowhere = `postgres://app:hunter2@127.0.0.1:${await freePort()}/charbridge`;
    const err = (await openStore(nowhere, undefined, { startupWait: wait }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^DATABASE_URL: cannot connect to PostgreSQL at postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/charbridge \(still no answer after 1 s \(STARTUP_WAIT_MS\): .*ECONNREFUSED/);
    expect(err.message).not.toContain('hunter2');
    expect(wait.warnings).toHaveLength(1);
  });
});
