import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import { createDatabase, dropDatabase, findOrStartPostgres, testDatabaseName } from '../helpers/pg-server.js';
import { ms, percentile, ratio, timeEach } from './stats.js';

const N = 400;

/** p50 of the hot store calls on one store, plus concurrent feed appends per second. */
async function hotCalls(store: Store): Promise<Record<string, number>> {
  const conv = await store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'bench', characterId: 'c' });
  const message = (i: number) => ({ conversationId: conv.id, role: 'user' as const, kind: 'user' as const, content: `message ${i} of the benchmark`, tokenCount: 6 });
  const append = await timeEach(N, (i) => store.messages.append(message(i)));
  for (let i = 0; i < 1000; i++) await store.messages.append(message(i));
  const newest = await timeEach(N, () => store.messages.newest(conv.id, { limit: 20 }));
  let e = 0;
  const claim = await timeEach(N, () =>
    store.events.claim({ platform: 'telegram', eventId: `ev-${e++}`, owner: 'bench', now: Date.now(), deadAfterMs: 10_000, leaseMs: 120_000, payload: '{"text":"hi"}' }),
  );
  const feed = (i: number) => ({ apiKeyId: 'bench', conversationId: conv.id, characterId: 'c', kind: 'reply' as const, message: { id: `m${i}`, content: 'x', sentAt: new Date().toISOString() } });
  const feedAppend = await timeEach(N, (i) => store.updates.append(feed(i)));
  const WRITERS = 8;
  const PER = 100;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; i < PER; i++) await store.updates.append(feed(w * PER + i));
  }));
  const feedPerSec = (WRITERS * PER) / ((performance.now() - t0) / 1000);
  const t1 = performance.now();
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; i < PER; i++) await store.messages.append(message(w * PER + i));
  }));
  const msgPerSec = (WRITERS * PER) / ((performance.now() - t1) / 1000);
  return {
    append: percentile(append, 50),
    newest: percentile(newest, 50),
    claim: percentile(claim, 50),
    feedAppend: percentile(feedAppend, 50),
    feedPerSec,
    msgPerSec,
  };
}

/**
 * The store on PostgreSQL against SQLite (a WAL file, as deployed) in the same run: migrating a
 * fresh database, and the per-call cost of the hot paths (a turn appends messages and reads the
 * newest ones, every platform event is claimed). PostgreSQL pays a loopback round trip per
 * statement, so ratios well above 1× are expected; what matters is that they stay flat.
 */
export async function benchStore(): Promise<Record<string, string | number>> {
  const pg = await findOrStartPostgres();
  if ('missing' in pg) return { skipped: `no PostgreSQL: ${pg.missing}` };
  const dir = mkdtempSync(join(tmpdir(), 'charbridge-bench-'));
  const out: Record<string, string | number> = {};
  const names: string[] = [];
  try {
    const migrateSqlite: number[] = [];
    const migratePg: number[] = [];
    for (let i = 0; i < 3; i++) {
      let t = performance.now();
      await (await openStore(join(dir, `m${i}.db`))).close();
      migrateSqlite.push(performance.now() - t);
      const name = testDatabaseName(process.pid);
      names.push(name);
      const url = await createDatabase(pg.adminUrl, name);
      t = performance.now();
      await (await openStore(url)).close();
      migratePg.push(performance.now() - t);
    }
    const [ms50, mp50] = [percentile(migrateSqlite, 50), percentile(migratePg, 50)];
    out[`migrate a fresh database (SQLite file / PostgreSQL, ${pg.source})`] = `${ms(ms50)} / ${ms(mp50)} (${ratio(mp50, ms50)})`;

    const sqlite = await openStore(join(dir, 'hot.db'));
    const s = await hotCalls(sqlite).finally(() => sqlite.close());
    const name = testDatabaseName(process.pid);
    names.push(name);
    const postgres = await openStore(await createDatabase(pg.adminUrl, name));
    const p = await hotCalls(postgres).finally(() => postgres.close());
    const row = (label: string, a: number, b: number) => (out[`${label} p50 (SQLite / PostgreSQL)`] = `${ms(a)} / ${ms(b)} (${ratio(b, a)})`);
    row('messages.append', s.append!, p.append!);
    row('messages.newest(20) @ 1,400 msgs', s.newest!, p.newest!);
    row('events.claim', s.claim!, p.claim!);
    row('updates.append (feed lock on PG)', s.feedAppend!, p.feedAppend!);
    out['8 concurrent writers: feed appends/s (SQLite / PostgreSQL)'] = `${Math.round(s.feedPerSec!)} / ${Math.round(p.feedPerSec!)} (${ratio(p.feedPerSec!, s.feedPerSec!)})`;
    out['8 concurrent writers: message appends/s (SQLite / PostgreSQL)'] = `${Math.round(s.msgPerSec!)} / ${Math.round(p.msgPerSec!)} (${ratio(p.msgPerSec!, s.msgPerSec!)})`;
  } finally {
    for (const n of names) await dropDatabase(pg.adminUrl, n).catch(() => {});
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
