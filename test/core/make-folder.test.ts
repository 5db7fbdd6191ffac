/**
 * `makeFolder` is `mkdir -p` that cannot hang: Node's own recursive mkdir loops for ever where the
 * kernel refuses a folder whose parent exists with ENOENT (under /proc), so a DATABASE_URL there
 * froze the start.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { makeFolder } from '../../src/core/make-folder.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-folder-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('makes the folder and its missing parents with the mode asked, and leaves an existing one be', () => {
  const deep = join(dir, 'a', 'b', 'c');
  makeFolder(deep, 0o700);
  expect(statSync(deep).isDirectory()).toBe(true);
  expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700);
  makeFolder(deep);
  makeFolder(dir);
  expect(statSync(deep).isDirectory()).toBe(true);
});

it('throws what mkdir met: a file in the way, a file among the parents', () => {
  writeFileSync(join(dir, 'a-file'), '');
  expect(() => makeFolder(join(dir, 'a-file'))).toThrow(`EEXIST: file already exists, mkdir '${join(dir, 'a-file')}'`);
  expect(() => makeFolder(join(dir, 'a-file', 'sub'))).toThrow(/ENOTDIR/);
});

it.skipIf(!existsSync('/proc/self'))('answers at once under /proc, where the recursive mkdir never returns', () => {
  expect(() => makeFolder('/proc/charbridge-test/data')).toThrow(`ENOENT: no such file or directory, mkdir '/proc/charbridge-test'`);
});
