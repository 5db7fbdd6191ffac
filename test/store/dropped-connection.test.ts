/**
 * A PostgreSQL restart or failover closes every connection, including ones a statement or a
 * transaction has checked out of the pool at that moment. Such a statement fails, and the
 * process carries on: the next statement gets a new connection. (pg emits 'error' on a checked-out
 * connection the server closed, and pg-pool listens only on idle ones: unhandled, that event
 * ended the whole process, as PostgreSQL crashes during `npm run chaos -- --cluster --outages`
 * showed.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.js';
import { createDatabase, postgresBinDir, startPostgres, withAdmin, type PostgresServer } from '../helpers/pg-server.js';
import { hasPostgres, pgDatabase, type TestDatabase } from '../helpers/services.js';

describe.skipIf(!hasPostgres())('a PostgreSQL connection the server closes while it is in use', () => {
  let db: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    db = await pgDatabase();
    store = await openStore(db.url);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  const terminate = (pid: number) => withAdmin(db.url, (admin) => sql`select pg_terminate_backend(${pid})`.execute(admin));
  /** Resolves once the server no longer lists the backend (its connection is closed). */
  const gone = async (pid: number) => {
    for (;;) {
      const { rows } = await withAdmin(db.url, (admin) => sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where pid = ${pid}`.execute(admin));
      if (rows[0]!.n === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('fails the transaction that held it, and the next statement works on a new connection', async () => {
    let held = 0;
    const tx = store.db.transaction().execute(async (trx) => {
      held = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]!.pid;
      await terminate(held);
      await gone(held);
      // The close has reached the client while the connection was checked out and idle.
      await new Promise((r) => setTimeout(r, 50));
      await sql`select 1`.execute(trx);
    });
    await expect(tx).rejects.toThrow(/terminat|closed|not queryable/i);

    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(store.db);
    expect(rows[0]!.pid).not.toBe(held);
    const conv = await store.conversations.getOrCreateByScope('telegram:1:chat:9', { platform: 'telegram', chatType: 'dm' });
    expect((await store.conversations.getByScope('telegram:1:chat:9'))?.id).toBe(conv.id);
  });
});

const bin = postgresBinDir();
describe.skipIf(!bin)('a PostgreSQL server that restarts', () => {
  let server: PostgresServer;
  let store: Store;
  beforeAll(async () => {
    server = await startPostgres(bin!, { crashSafe: true });
    store = await openStore(await createDatabase(server.adminUrl, 'outage'));
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('is waited for: a statement sent while it is down runs once it is back', async () => {
    const conv = await store.conversations.getOrCreateByScope('telegram:1:chat:5', { platform: 'telegram', chatType: 'dm' });
    const down = server.crash!(1500);
    // Sent while the server is stopping or stopped: it waits rather than failing.
    await new Promise((r) => setTimeout(r, 300));
    const during = store.messages.append({ conversationId: conv.id, role: 'user', kind: 'user', content: 'sent during the outage', authorName: 'Ann', tokenCount: 4 });
    await down;
    const stored = await during;
    expect((await store.messages.get(stored.id))?.content).toBe('sent during the outage');
  }, 60_000);
});
