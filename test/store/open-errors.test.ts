/**
 * A DATABASE_URL whose SQLite file cannot be used (its folder runs through a file, or the file is
 * not a database) stops the start with a configuration error naming DATABASE_URL and the fix,
 * not a stack trace from the driver.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { connect } from '../../src/store/db.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-open-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const FIX = 'Point it at a file in a folder this process may write, such as data/charbridge.db (the default), or at a PostgreSQL URL.';

it('names DATABASE_URL when the folder of the SQLite file cannot be made', () => {
  writeFileSync(join(dir, 'a-file'), '');
  const url = join(dir, 'a-file', 'charbridge.db');
  expect(() => connect(url)).toThrow(ConfigError);
  expect(() => connect(url)).toThrow(`DATABASE_URL: cannot use ${url} as the SQLite database (EEXIST: file already exists, mkdir '${join(dir, 'a-file')}'). ${FIX}`);
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
