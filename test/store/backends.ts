import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import { sql } from 'kysely';
import { ManualClock } from '../../src/core/clock.js';
import { openStore, type Store } from '../../src/store/index.js';
import { hasPostgres, pgDatabase, type TestDatabase } from '../helpers/services.js';

export type Backend = 'sqlite' | 'postgres';
export const BACKENDS: readonly Backend[] = ['sqlite', 'postgres'];

/** Children before parents, so deleting in this order never trips a foreign key. */
const TABLES = [
  'memory_facts', 'memory_owners', 'memory_forgotten', 'memory_progress', 'memory_embeddings', 'messages', 'updates', 'usage', 'usage_daily', 'usage_days', 'proactive_outbox', 'webhook_outbox', 'idempotency_keys', 'processed_events',
  'bindings', 'chat_settings', 'conversations', 'characters', 'api_keys',
  'lorebook_links', 'lorebooks', 'personas', 'lore_activity', 'call_tally', 'send_marks', 'instances',
] as const;

export interface StoreContext {
  backend: Backend;
  /** Open for the whole describe block, emptied before each test. */
  store: Store;
  /** The clock the store reads; reset to its start before each test. */
  clock: ManualClock;
}

/** Open a store on `backend`: a private `:memory:` SQLite, or a fresh copy of the migrated template. */
export async function openTestStore(backend: Backend, clock = new ManualClock()): Promise<{ store: Store; db: TestDatabase | null }> {
  if (backend === 'sqlite') return { store: await openStore(':memory:', clock), db: null };
  const db = await pgDatabase();
  return { store: await openStore(db.url, clock), db };
}

/** One store per backend and test file, opened on first use and closed after the file. */
const opened = new Map<Backend, Promise<{ store: Store; db: TestDatabase | null; clock: ManualClock }>>();
let closeRegistered = false;

function sharedStore(backend: Backend) {
  if (!closeRegistered) {
    closeRegistered = true;
    afterAll(async () => {
      for (const p of opened.values()) {
        const { store, db } = await p;
        await store.close();
        await db?.drop();
      }
      opened.clear();
    });
  }
  return () => {
    let p = opened.get(backend);
    if (!p) {
      const clock = new ManualClock();
      p = openTestStore(backend, clock).then((o) => ({ ...o, clock }));
      opened.set(backend, p);
    }
    return p;
  };
}

/**
 * `describe.each` over SQLite and PostgreSQL: the same tests on a store per backend (one per file,
 * emptied before each test). The PostgreSQL block is skipped, the run's setup saying why, when
 * the run has no server.
 */
export function describeStores(title: string, body: (ctx: StoreContext) => void, only: readonly Backend[] = BACKENDS): void {
  for (const backend of only) {
    const skip = backend === 'postgres' && !hasPostgres();
    const open = skip ? null : sharedStore(backend);
    describe.skipIf(skip)(`${title} [${backend}]`, () => {
      const ctx = { backend } as StoreContext;
      beforeAll(async () => {
        ({ store: ctx.store, clock: ctx.clock } = await open!());
      });
      beforeEach(async () => {
        ctx.clock.set(Date.UTC(2026, 0, 1, 12, 0, 0));
        for (const t of TABLES) await sql`delete from ${sql.table(t)}`.execute(ctx.store.db);
      });
      body(ctx);
    });
  }
}
