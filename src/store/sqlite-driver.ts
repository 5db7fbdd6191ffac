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
import { storableParameters } from './storable-text.js';

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
  let driver: AsyncSqliteDriver | undefined;
  return {
    createDriver: () => (driver = new AsyncSqliteDriver(db, opts)),
    // Kysely creates the driver first; its adapter is how `runNow` finds the driver again.
    createAdapter: () => {
      const adapter = new SqliteAdapter();
      if (driver) direct.set(adapter, driver);
      return adapter;
    },
    createIntrospector: (k: Kysely<any>) => new SqliteIntrospector(k),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

/** Each SQLite Kysely instance's driver, by the adapter its queries and transactions share. */
const direct = new WeakMap<object, AsyncSqliteDriver>();

/**
 * Runs a compiled statement synchronously, without Kysely's executor, when that cannot change
 * what it sees or does: `db` is the transaction holding the connection, or nobody holds it nor
 * waits for it. Otherwise (or on a busy lock, which the asynchronous path waits out) returns
 * undefined and the caller goes through Kysely. Kysely's executor costs a turn's few dozen small
 * statements more CPU than SQLite spends running them: a connection lease, four async frames
 * and their promises per statement.
 */
export function runNow<R>(db: { getExecutor(): { adapter: object }; isTransaction: boolean }, q: CompiledQuery): QueryResult<R> | undefined {
  return direct.get(db.getExecutor().adapter)?.runNow<R>(q, db.isTransaction);
}

class AsyncSqliteDriver implements Driver {
  private readonly connection: AsyncSqliteConnection;
  /** SQLite has one connection: callers wait their turn for it. */
  private tail: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;
  /** Callers holding the connection or waiting for it. */
  private users = 0;

  constructor(private readonly db: SqliteDatabase, opts: SqliteDriverOptions) {
    this.connection = new AsyncSqliteConnection(db, opts);
  }

  async init(): Promise<void> {}

  runNow<R>(q: CompiledQuery, inTransaction: boolean): QueryResult<R> | undefined {
    return inTransaction || this.users === 0 ? this.connection.runNow<R>(q) : undefined;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    this.users++;
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
    this.users--;
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

  /** The statement run at once, or undefined if another process holds the lock (the caller then waits asynchronously). */
  runNow<R>(q: CompiledQuery): QueryResult<R> | undefined {
    try {
      return this.run<R>(q);
    } catch (err) {
      if (isBusy(err)) return undefined;
      throw err;
    }
  }

  async *streamQuery<R>(q: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    for (const row of this.statement(q.sql).iterate(storableParameters(q.parameters))) yield { rows: [row as R] };
  }

  private run<R>(q: CompiledQuery): QueryResult<R> {
    const stmt = this.statement(q.sql);
    const params = storableParameters(q.parameters);
    if (stmt.reader) return { rows: stmt.all(params) as R[] };
    const { changes, lastInsertRowid } = stmt.run(params);
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
