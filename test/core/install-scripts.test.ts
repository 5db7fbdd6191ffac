/**
 * `npm install` on a fresh machine: npm 12 skips the install script of every dependency that
 * `allowScripts` in package.json does not list, and better-sqlite3 gets its native driver from
 * its install script, so an unlisted one leaves `npm start` without a database. Every package
 * the lockfile marks as having an install script must be listed, by name, so a new version of it
 * is allowed too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const json = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));

describe('install scripts', () => {
  it('allows by name every dependency whose install script the lockfile records, better-sqlite3 among them', () => {
    const lock = json('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, p]) => path && p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts).toContain('better-sqlite3');
    const allowed = (json('package.json') as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
    expect(Object.fromEntries(withScripts.map((name) => [name, allowed[name]]))).toEqual(Object.fromEntries(withScripts.map((name) => [name, true])));
  });
});
