import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { connect } from '../../src/store/db.js';
import { openStore } from '../../src/store/index.js';
import { freePort, portOpen } from './ports.js';

const run = promisify(execFile);

/** A PostgreSQL server tests may create and drop databases on. */
export interface PostgresServer {
  /** A URL of a maintenance database (usually `postgres`) with the right to CREATE DATABASE. */
  adminUrl: string;
  /** 'env' (TEST_DATABASE_URL), 'local' (already running on 127.0.0.1:5432) or 'started' (ours). */
  source: 'env' | 'local' | 'started';
  /** Stop the server if this run started it; otherwise nothing. */
  stop(): Promise<void>;
  /** A server this run started: stopped as a crash stops it (`pg_ctl -m immediate`), down `downMs`, then started again on the same port. */
  crash?(downMs: number): Promise<void>;
}

export const INSTALL_HINT =
  'install the Debian packages postgresql and redis-server (apt-get install postgresql redis-server), ' +
  'or point TEST_DATABASE_URL / TEST_REDIS_URL at servers you may create databases and keys on';

/** Run SQL on a short-lived administrative connection to `url`. */
export async function withAdmin<T>(url: string, fn: (db: ReturnType<typeof connect>['db']) => Promise<T>): Promise<T> {
  const { db } = connect(url);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

async function usable(url: string): Promise<boolean> {
  try {
    await withAdmin(url, (db) => sql`select 1`.execute(db));
    return true;
  } catch {
    return false;
  }
}

/**
 * TEST_DATABASE_URL when set; else a server already on 127.0.0.1:5432 that accepts user
 * `postgres` without a password; else a throwaway cluster in a temp dir on a free loopback port.
 * Returns a reason instead when none of these works.
 */
export async function findOrStartPostgres(): Promise<PostgresServer | { missing: string }> {
  const env = process.env.TEST_DATABASE_URL;
  if (env) {
    if (await usable(env)) return { adminUrl: env, source: 'env', stop: async () => {} };
    return { missing: `TEST_DATABASE_URL is set but no PostgreSQL answers there (${redact(env)})` };
  }
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  if ((await portOpen(5432)) && (await usable(local))) return { adminUrl: local, source: 'local', stop: async () => {} };
  const bin = postgresBinDir();
  if (!bin || !existsSync(join(bin, 'initdb'))) return { missing: 'no PostgreSQL server on 127.0.0.1:5432 and no initdb to start one' };
  return startPostgres(bin).catch((err: Error) => ({ missing: `could not start a throwaway PostgreSQL: ${err.message}` }));
}

/** Where initdb and pg_ctl live: PG_BIN, the newest Debian install, or PATH. */
export function postgresBinDir(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest) return join(root, newest, 'bin');
  const onPath = (process.env.PATH ?? '').split(':').find((d) => d && existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  return onPath;
}

/** PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user. */
async function asServerUser(cmd: string, args: string[]): Promise<void> {
  const asRoot = userInfo().uid === 0;
  try {
    await (asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd.split('/').pop()} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

/**
 * A throwaway cluster (initdb + pg_ctl, fsync off) in a temp dir on a free loopback port.
 * `crashSafe`: commits are acknowledged only once written (synchronous_commit on), so `crash()`
 * loses none of them; otherwise the last fraction of a second of commits dies with the server.
 */
export async function startPostgres(bin: string, opts: { crashSafe?: boolean } = {}): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'charbridge-pg-'));
  if (userInfo().uid === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  const settings = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off${opts.crashSafe ? '' : ' -c synchronous_commit=off'} -c full_page_writes=off -c max_connections=200`;
  await asServerUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  const start = () => asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-s', 'start', '-o', settings]);
  await start();
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    source: 'started',
    crash: async (downMs) => {
      await asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', '-s', 'stop']);
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    stop: async () => {
      await asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', '-s', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `url` with `name` as its database. */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Test databases are named `cbt_<pid of the run>_<random>`, so a later run can find leftovers. */
export function testDatabaseName(runPid: number): string {
  return `cbt_${runPid}_${randomBytes(5).toString('hex')}`;
}

/**
 * Create a database: a copy of `template` (a file copy, about 0.2 s, no migrations), or else an
 * empty one with byte-order collation, so text sorts as on SQLite whatever the server's locale.
 */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<string> {
  await withAdmin(adminUrl, (db) =>
    template
      ? sql`create database ${sql.id(name)} template ${sql.id(template)}`.execute(db)
      : sql`create database ${sql.id(name)} template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'`.execute(db),
  );
  return databaseUrl(adminUrl, name);
}

/** Drop a database even while connections to it are open (they are ended). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withAdmin(adminUrl, (db) => sql`drop database if exists ${sql.id(name)} with (force)`.execute(db));
}

/** A database migrated to the latest schema, for `CREATE DATABASE … TEMPLATE`. */
export async function createMigratedTemplate(adminUrl: string, runPid: number): Promise<string> {
  const name = testDatabaseName(runPid);
  const store = await openStore(await createDatabase(adminUrl, name));
  await store.close();
  return name;
}

/**
 * Drop test databases left by runs that died before their teardown (their process is gone).
 * Only on a loopback server, where the pid in the name is a process of this machine.
 */
export async function dropLeftovers(adminUrl: string): Promise<void> {
  if (new URL(adminUrl).hostname !== '127.0.0.1' && new URL(adminUrl).hostname !== 'localhost') return;
  const names = await withAdmin(adminUrl, async (db) => (await sql<{ datname: string }>`select datname from pg_database where datname like 'cbt\\_%'`.execute(db)).rows);
  for (const { datname } of names) {
    const pid = Number(/^cbt_(\d+)_/.exec(datname)?.[1]);
    if (pid && !alive(pid)) await dropDatabase(adminUrl, datname).catch(() => {});
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** A URL safe to print: the password, if any, replaced. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
