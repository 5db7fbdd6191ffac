import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import SQLite from 'better-sqlite3';
import type pg from 'pg';
import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider, type PostgresPool, type PostgresPoolClient } from 'kysely';
import { sqliteDialect } from './sqlite-driver.js';
import { storableParameters } from './storable-text.js';
import { asStoreError, Downtime, isUnreachable, waitingConnect } from './pg-outage.js';
import { waitForServer, type StartupWait } from '../core/startup-wait.js';
import { ConfigError } from '../core/errors.js';
import { makeFolder } from '../core/make-folder.js';
import type { Database } from './schema.js';
import { sqlDialect, type DialectName, type SqlDialect } from './dialect.js';
import { migrationsFor } from './migrations/index.js';

export type DB = Kysely<Database>;

/** `postgres://…` and `postgresql://…` select PostgreSQL; anything else is a SQLite file path. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Open the database `url` names without migrating it: a `pg` pool for a PostgreSQL URL, else
 * the SQLite file (or `:memory:`) in WAL mode. This is the only file that imports better-sqlite3
 * or pg; tests use it for administrative connections too.
 */
export function connect(url: string, downtime = new Downtime()): { db: Kysely<any>; dialect: DialectName } {
  if (isPostgresUrl(url)) return { db: new Kysely<any>({ dialect: new PostgresDialect({ pool: postgresPool(url, undefined, downtime) }) }), dialect: 'postgres' };
  const sqlite = openSqliteFile(url);
  sqlite.pragma('synchronous = NORMAL');
  // Checkpoint every ~40 MB of WAL instead of SQLite's 4 MB: a turn rewrites the same hot pages
  // (the conversation row, index leaves) many times, and a checkpoint copies each page once per
  // interval. Measured on a turn's writes: 0.96 ms of CPU per turn at 1,000 pages, 0.64 at 10,000.
  sqlite.pragma('wal_autocheckpoint = 10000');
  sqlite.pragma('foreign_keys = ON');
  // Two processes on one file (a CLI beside the server) wait for each other instead of failing —
  // asynchronously, in the driver: SQLite's own busy timeout would spin on the event loop.
  sqlite.pragma('busy_timeout = 0');
  return { db: new Kysely<any>({ dialect: sqliteDialect(sqlite) }), dialect: 'sqlite' };
}

/** Errors that say the path, not the moment, is wrong: its folder cannot be made, or the file cannot be a database there (with every `SQLITE_READONLY…`). */
const UNUSABLE_PATH = new Set(['ENOENT', 'EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EISDIR', 'SQLITE_CANTOPEN', 'SQLITE_NOTADB', 'SQLITE_PERM']);

/**
 * The SQLite file at `url` (its folder made if missing), in WAL mode. A path that cannot hold a
 * database (a folder that cannot be made, a file that is not SQLite, a read-only place) is a
 * configuration error naming DATABASE_URL; the first pragma is where SQLite reads the file.
 */
function openSqliteFile(url: string): SQLite.Database {
  let sqlite: SQLite.Database | undefined;
  try {
    if (url !== ':memory:' && !url.startsWith('file:')) makeFolder(dirname(url));
    sqlite = new SQLite(url);
    sqlite.pragma('journal_mode = WAL');
    return sqlite;
  } catch (err) {
    sqlite?.close();
    const code = String((err as { code?: unknown }).code ?? '');
    if (!UNUSABLE_PATH.has(code) && !code.startsWith('SQLITE_READONLY')) throw err;
    throw new ConfigError(`DATABASE_URL: cannot use ${url} as the SQLite database (${(err as Error).message}). Point it at a file in a folder this process may write, such as data/charbridge.db (the default), or at a PostgreSQL URL.`);
  }
}

/**
 * Proof that no other process runs on the SQLite file `url`: an exclusive lock on a file beside
 * it (`<file>.instance`), held by a connection of its own for as long as this process lives. The
 * operating system drops the lock when its process dies, however it dies, so getting it proves
 * that whatever ran here before has stopped. Returns its release, which must be kept: it holds
 * the connection, and a collected connection closes and frees the lock. Undefined when another
 * process holds it, or when a lock cannot say so (`:memory:` is private anyway; PostgreSQL).
 */
export function holdSoleInstanceLock(url: string): (() => void) | undefined {
  if (isPostgresUrl(url) || url === ':memory:' || url.startsWith('file:')) return undefined;
  const lock = new SQLite(`${url}.instance`);
  try {
    lock.pragma('busy_timeout = 0');
    // Once written, an exclusive-mode connection keeps its lock until it closes.
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('begin exclusive; create table if not exists held (pid integer); delete from held; commit');
    lock.prepare('insert into held (pid) values (?)').run(process.pid);
    return () => lock.close();
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) return undefined;
    throw err;
  }
}

/**
 * A handle for the few short writes that must not wait behind a burst of other work: marking a
 * delivered reply's event done (until then a crash sends the reply again). On PostgreSQL it is a
 * pool of its own with one connection, so those writes never queue behind the main pool's
 * waiting queries; on SQLite, whose single connection runs each statement in microseconds, it is
 * `db` itself.
 */
export function priorityLane(url: string, db: DB, downtime = new Downtime()): DB {
  if (!isPostgresUrl(url)) return db;
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: postgresPool(url, 1, downtime) }) });
}

/**
 * Open (creating if needed) the database and bring its schema up to date. With `wait`, a
 * PostgreSQL server that refuses connections or is still starting is waited for (see
 * `waitForServer`); without it (the CLI) such a server fails at once.
 */
export async function openDatabase(url: string, wait?: StartupWait, downtime?: Downtime): Promise<{ db: DB; dialect: SqlDialect }> {
  const { db, dialect } = connect(url, downtime);
  try {
    if (dialect === 'postgres') {
      const where = withoutPassword(url);
      // A restart while the schema is brought up to date is waited out too: each migration is a
      // transaction, so one the drop cut short was rolled back and runs again.
      const unreachable = (err: unknown) => isUnreachable(err) || isUnreachable((err as { cause?: unknown } | null)?.cause);
      let reached = false;
      const upToDate = async () => {
        reached = false;
        await sql`select 1`.execute(db);
        reached = true;
        await migrate(db, dialect);
      };
      await waitForServer({ server: 'PostgreSQL', variable: 'DATABASE_URL', where }, upToDate, unreachable, wait).catch((err: unknown) => {
        // A migration that failed on its own (not for want of a server) says so, unchanged.
        if (reached && !unreachable(err)) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new ConfigError(`DATABASE_URL: cannot connect to PostgreSQL at ${where} (${why}). Start PostgreSQL there or fix the URL; unset, charbridge uses the SQLite file data/charbridge.db.`);
      });
    } else await migrate(db, dialect);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, dialect: sqlDialect(dialect) };
}

/** The URL as it may appear in an error message: never with its password. */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'an unparsable postgres URL';
  }
}

/** Apply pending migrations; throws with the failing migration's name. */
export async function migrate(db: Kysely<any>, dialect: DialectName = 'sqlite'): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(dialect) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Database migration ${failed} failed: ${String(error)}`, { cause: error });
  }
}

/**
 * Migrations this code knows that the database has not run: empty once start-up migrated it.
 * Reading the migration table also proves the database answers (readiness).
 */
export async function pendingMigrations(db: Kysely<any>, dialect: DialectName): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(dialect) };
  const all = await new Migrator({ db, provider }).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/**
 * `pg` is loaded the first time a PostgreSQL URL is opened: a SQLite deployment never pays its
 * memory (and its module graph) for a driver it does not use.
 */
let pgModule: typeof pg | undefined;
function loadPg(): typeof pg {
  pgModule ??= createRequire(import.meta.url)('pg') as typeof pg;
  return pgModule;
}

/** int8 (ids, epoch ms, counts) and numeric (sums of int8) as JS numbers, refusing lossy ones. */
function exactNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) && !(Number.isFinite(n) && text.includes('.'))) {
    throw new RangeError(`PostgreSQL returned ${text}, which a JavaScript number cannot hold exactly`);
  }
  return n;
}

/**
 * A pool whose int8/numeric results are numbers, set through the pool's own `types` so no other
 * pg user in the process is affected. The schema has no timestamp columns (times are ISO text or
 * epoch ms), so pg's Date parsing never applies. `downtime` counts the time its connections find
 * the server unreachable, shared by the store's pools.
 */
function postgresPool(url: string, max: number | undefined, downtime: Downtime): PostgresPool {
  const pg = loadPg();
  const { builtins } = pg.types;
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') =>
      oid === builtins.INT8 || oid === builtins.NUMERIC ? exactNumber : pg.types.getTypeParser(oid, format),
  } as pg.CustomTypesConfig;
  const pool = new pg.Pool({ connectionString: url, types, application_name: 'charbridge', ...(max ? { max } : {}) });
  // An idle connection the server dropped (restart, failover) is discarded by the pool and the
  // next query opens a new one; without a listener the 'error' event would end the process.
  pool.on('error', () => {});
  return storableTextPool(pool, downtime);
}

/** The pool as Kysely uses it, each statement's text parameters made storable (`storableParameters`). */
function storableTextPool(pool: pg.Pool, downtime: Downtime): PostgresPool {
  // One wrapper per pooled client: Kysely keeps its connection object by client identity.
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const take = waitingConnect(() => pool.connect(), (client) => client.release(), undefined, downtime);
  return {
    connect: async () => {
      const client = await take();
      let w = wrapped.get(client);
      if (!w) {
        const c = client;
        // pg-pool listens for a connection's errors only while it is idle. One that is checked out
        // when the server goes away (a restart, a failover) also emits 'error', which without a
        // listener ends the process; its query fails anyway, and the pool drops it on release.
        c.on('error', () => {});
        w = {
          query: ((q: unknown, params?: readonly unknown[]) =>
            typeof q === 'string'
              ? c.query(q, params && (storableParameters(params) as unknown[])).catch((err: unknown) => Promise.reject(asStoreError(err)))
              : c.query(q as pg.Submittable)) as unknown as PostgresPoolClient['query'],
          release: () => c.release(),
        };
        wrapped.set(client, w);
      }
      return w;
    },
    end: () => pool.end(),
  };
}
