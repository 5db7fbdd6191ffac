/**
 * A DATABASE_URL whose SQLite file cannot be used (its folder runs through a file, the folder may
 * not be written, or the file is not a database) stops the start with a configuration error naming DATABASE_URL and the fix,
 * not a stack trace from the driver.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { connect } from '../../src/store/db.js';
import { launchInstance, type LaunchedInstance } from '../cluster/child-instance.js';
import { withoutCapabilities } from '../helpers/capabilities.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-open-'));
});
let child: LaunchedInstance | undefined;
afterEach(async () => {
  await child?.kill();
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const FIX = 'Point it at a file in a folder this process may write, such as data/charbridge.db (the default), or at a PostgreSQL URL.';

it('names DATABASE_URL when the folder of the SQLite file cannot be made', () => {
  writeFileSync(join(dir, 'a-file'), '');
  const url = join(dir, 'a-file', 'charbridge.db');
  expect(() => connect(url)).toThrow(ConfigError);
  expect(() => connect(url)).toThrow(`DATABASE_URL: cannot use ${url} as the SQLite database (EEXIST: file already exists, mkdir '${join(dir, 'a-file')}'). ${FIX}`);
});

it.skipIf(!existsSync('/proc/self'))('names DATABASE_URL at once for a place under /proc, where no folder can be made', () => {
  // Node's recursive mkdir never returned there: the start hung instead.
  const url = '/proc/charbridge-test/data/charbridge.db';
  expect(() => connect(url)).toThrow(`DATABASE_URL: cannot use ${url} as the SQLite database (ENOENT: no such file or directory, mkdir '/proc/charbridge-test'). ${FIX}`);
});

it('names DATABASE_URL when the file is not a SQLite database', () => {
  const url = join(dir, 'notes.txt');
  writeFileSync(url, 'these are my notes, not a database; '.repeat(200));
  expect(() => connect(url)).toThrow(`DATABASE_URL: cannot use ${url} as the SQLite database (file is not a database). ${FIX}`);
});

it('opens a good path as before', async () => {
  const { db, dialect } = connect(join(dir, 'data', 'charbridge.db'));
  expect(dialect).toBe('sqlite');
  await db.destroy();
});

it('a real start in a folder it may not write names the admin key file, then the database, each with its variable, exit 78, no stack', async (ctx) => {
  const readOnly = join(dir, 'read-only');
  mkdirSync(readOnly);
  chmodSync(readOnly, 0o555);
  const writeThere = `try { require('fs').writeFileSync(${JSON.stringify(join(readOnly, 'probe'))}, ''); } catch (e) { console.log(e.code); }`;
  const prefix = withoutCapabilities(['dac_override', 'dac_read_search'], writeThere, 'EACCES');
  if (!prefix) return ctx.skip();
  const url = join(readOnly, 'charbridge.db');
  const start = async (env: Record<string, string>) => {
    child = await launchInstance({ DATABASE_URL: url, ...env }, undefined, { prefix });
    await child.closed; // exited, and what it wrote read to the end
    expect(child.process.exitCode, child.output()).toBe(78);
    expect(child.output()).not.toMatch(/\n\s+at /);
    return child.output();
  };
  // The generated admin key file lives beside the database: it is the first thing written.
  expect(await start({})).toContain(`Cannot write the admin key file ${join(readOnly, 'admin-api-key')}: EACCES: permission denied`);
  expect(child!.output()).toContain('(DATABASE_URL) unless ADMIN_KEY_FILE names another');
  const out = await start({ ADMIN_API_KEY: 'an-admin-key-for-this-test' });
  expect(out).toContain(`DATABASE_URL: cannot use ${url} as the SQLite database (`);
  expect(out).toContain(FIX);
}, 60_000);
