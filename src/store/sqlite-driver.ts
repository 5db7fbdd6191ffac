import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import { LRUCache } from 'lru-cache';

/** The parts of a better-sqlite3 database this driver uses (db.ts owns the library itself). */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  close(): unknown;
}
interface SqliteStatement {
  readonly reader: boolean;
  all(params: readonly unknown[]): unknown[];
  run(params: readonly unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(params: readonly unknown[]): IterableIterator<unknown>;
}

export interface SqliteDriverOptions {
  /** How long a statement keeps retrying while another process holds the write lock. */
  busyWaitMs?: number;
  /** Injected for tests: resolves after `ms`. */
  sleep?: (ms: number) => Promise<void>;
}

const isBusy = (err: unknown) => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
};

/**
 * Kysely over better-sqlite3 without ever blocking the event loop on a lock. better-sqlite3 is
 * synchronous: its `busy_timeout` waits for another process's write lock by spinning on the main
 * thread (a CLI or a second process holding the lock for 10 s froze /health for 5 s). Here the
 * connection's busy timeout is 0 and a statement refused with SQLITE_BUSY is retried after an
 * asynchronous pause, with backoff, for up to `busyWaitMs`. Write transactions start with
 * `BEGIN IMMEDIATE`, so the lock is taken (and waited for) at the start, never halfway through.
 * Statements are prepared once and reused.
 */
export function sqliteDialect(db: SqliteDatabase, opts: SqliteDriverOptions = {}): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new AsyncSqliteDriver(db, opts),
    createIntrospector: (k: Kysely<any>) => new SqliteIntrospector(k),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

class AsyncSqliteDriver implements Driver {
  private readonly connection: AsyncSqliteConnection;
  /** SQLite has one connection: callers wait their turn for it. */
  private tail: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  constructor(private readonly db: SqliteDatabase, opts: SqliteDriverOptions) {
    this.connection = new AsyncSqliteConnection(db, opts);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await previous;
    this.release = release;
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  async beginTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    this.db.close();
  }
}

class AsyncSqliteConnection implements DatabaseConnection {
  private readonly statements = new LRUCache<string, SqliteStatement>({ max: 500 });
  private readonly busyWaitMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly db: SqliteDatabase, opts: SqliteDriverOptions) {
    this.busyWaitMs = opts.busyWaitMs ?? 30_000;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    let waited = 0;
    for (let pause = 2; ; pause = Math.min(pause * 2, 100)) {
      try {
        return this.run<R>(q);
      } catch (err) {
        if (!isBusy(err) || waited >= this.busyWaitMs) throw err;
      }
      await this.sleep(pause);
      waited += pause;
    }
  }

  async *streamQuery<R>(q: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    for (const row of this.statement(q.sql).iterate(q.parameters)) yield { rows: [row as R] };
  }

  private run<R>(q: CompiledQuery): QueryResult<R> {
    const stmt = this.statement(q.sql);
    if (stmt.reader) return { rows: stmt.all(q.parameters) as R[] };
    const { changes, lastInsertRowid } = stmt.run(q.parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  private statement(sql: string): SqliteStatement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}
