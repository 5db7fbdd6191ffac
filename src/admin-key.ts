import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from './config.js';
import { ConfigError } from './core/errors.js';
import { makeFolder } from './core/make-folder.js';
import { isPostgresUrl } from './store/index.js';

/** Where the admin key came from: the environment, a file this start created, a file an earlier start created, or memory (`:memory:` databases). */
export type AdminKeyOrigin = 'env' | 'created' | 'file' | 'memory';

export interface AdminKey {
  key: string;
  origin: AdminKeyOrigin;
  /** The file holding it; null when it came from the environment or lives in memory. */
  file: string | null;
}

const KEY_FILE_NAME = 'admin-api-key';

/**
 * Where a generated admin key is kept: ADMIN_KEY_FILE, else beside the SQLite file (so a fresh
 * `npm start` keeps it in `data/` with the database), `data/` for PostgreSQL, and nowhere for a
 * `:memory:` database — a key that lives exactly as long as the data it guards.
 */
export function adminKeyFile(config: Pick<Config, 'http' | 'store'>): string | null {
  if (config.http.adminKeyFile) return config.http.adminKeyFile;
  const url = config.store.url;
  if (isPostgresUrl(url)) return join('data', KEY_FILE_NAME);
  if (url === ':memory:' || url.startsWith('file:')) return null;
  return join(dirname(url), KEY_FILE_NAME);
}

/** A new admin key: 32 random bytes, URL-safe, recognisable by its prefix. */
export function generateAdminKey(): string {
  return `cb_admin_${randomBytes(32).toString('base64url')}`;
}

/**
 * The admin key this process uses. ADMIN_API_KEY always wins; otherwise the key file is read,
 * or created (mode 0600, exclusively, so two processes starting together agree on one key).
 * Nobody has to invent a key before the first start, and the console can be opened at once.
 */
export function ensureAdminKey(config: Pick<Config, 'http' | 'store'>): AdminKey {
  if (config.http.adminApiKey) return { key: config.http.adminApiKey, origin: 'env', file: null };
  const file = adminKeyFile(config);
  if (file === null) return { key: generateAdminKey(), origin: 'memory', file: null };
  const existing = readKeyFile(file);
  if (existing !== undefined) return { key: existing, origin: 'file', file };
  const key = generateAdminKey();
  try {
    makeFolder(dirname(file), 0o700);
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ConfigError(`Cannot write the admin key file ${file}: ${(err as Error).message}. ${WHERE_IT_LIVES} to a writable place, or set ADMIN_API_KEY.`);
    const raced = readKeyFile(file); // another process created it first: use theirs
    if (raced !== undefined) return { key: raced, origin: 'file', file };
    throw new ConfigError(`The admin key file ${file} appeared empty. Delete it to have a new key generated, or set ADMIN_API_KEY.`);
  }
  chmodSync(file, 0o600); // the umask may have narrowed `mode`, never widened it; make it exact
  return { key, origin: 'created', file };
}

/** What decides the key file's place, for an error about it. */
const WHERE_IT_LIVES = 'It is kept beside the database file (DATABASE_URL) unless ADMIN_KEY_FILE names another: point the one you use';

/** The key in `file`; undefined when there is no file; a ConfigError naming the file when its content is unusable. */
function readKeyFile(file: string): string | undefined {
  let text: string;
  try {
    if (!statSync(file).isFile()) throw new ConfigError(`The admin key file ${file} is not a file. Set ADMIN_KEY_FILE to a file path.`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Cannot read the admin key file ${file}: ${(err as Error).message}. ${WHERE_IT_LIVES} to a readable place, or set ADMIN_API_KEY.`);
  }
  const key = text.trim();
  if (key.length === 0) return undefined;
  if (key.length < 16 || /\s/.test(key)) {
    throw new ConfigError(`The admin key in ${file} must be one line of at least 16 characters. Fix or delete the file (a new key is then generated), or set ADMIN_API_KEY.`);
  }
  return key;
}
