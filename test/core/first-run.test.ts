/**
 * The first five minutes: with no ADMIN_API_KEY the first start generates one, keeps it in a
 * 0600 file beside the database and shows it once in the banner; later starts read it and only
 * say where it is; ADMIN_API_KEY always wins. JSON logs never carry the key.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureAdminKey } from '../../src/admin-key.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { createLogger } from '../../src/log.js';
import { startRuntime } from '../../src/runtime.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-first-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Start, wait until ready, stop; what the banner and the JSON log said. */
async function startOnce(env: Record<string, string> = {}, withBanner = true) {
  const banners: string[] = [];
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: join(dir, 'data', 'charbridge.db'), ...env });
  const rt = await startRuntime(config, { log: createLogger({ level: 'info', destination: sink }), ...(withBanner ? { banner: (t: string) => banners.push(t) } : {}) });
  try {
    expect(await rt.ready).toBe(true);
    const keys = await fetch(`${rt.url}/api/v1/api-keys`, { headers: { 'x-api-key': rt.adminKey.key } });
    return { key: rt.adminKey.key, origin: rt.adminKey.origin, adminWorks: keys.status === 200, banners, log: lines.join(''), running: lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'charbridge is running') };
  } finally {
    await rt.shutdown('test');
  }
}

describe('the first start', () => {
  it('generates the admin key into a 0600 file, shows it once, and later starts only say where it is', async () => {
    const file = join(dir, 'data', 'admin-api-key');
    const first = await startOnce();
    expect(first.origin).toBe('created');
    expect(first.adminWorks).toBe(true);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.key);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.banners).toHaveLength(1);
    const banner = first.banners[0]!;
    expect(banner).toContain(first.key);
    expect(banner).toContain(`saved to ${file}`);
    expect(banner).toMatch(/Console\s+http:\/\/127\.0\.0\.1:\d+\/console\//);
    expect(banner).toMatch(/Model\s+built-in OFFLINE model/);
    expect(banner).toMatch(/Platforms\s+none/);
    expect(banner).toContain('Set OPENAI_API_KEY');
    expect(banner).toContain('npm run cli -- chat');
    expect(first.log).not.toContain(first.key);

    const second = await startOnce();
    expect(second).toMatchObject({ origin: 'file', key: first.key, adminWorks: true });
    expect(second.banners[0]).toContain(`Admin key     in ${file}`);
    expect(second.banners[0]).not.toContain(first.key);

    const piped = await startOnce({}, false); // JSON logs, no person watching: the facts, never the key
    expect(piped.running).toMatchObject({ adminKey: file, adminKeyCreated: false, model: 'offline', platforms: [], console: expect.stringMatching(/\/console\/$/) });
    expect(piped.log).not.toContain(first.key);
  });

  it('uses ADMIN_API_KEY from the environment over any key file, and creates none', async () => {
    const env = await startOnce({ ADMIN_API_KEY: 'env-admin-key-0123456789' });
    expect(env).toMatchObject({ origin: 'env', key: 'env-admin-key-0123456789', adminWorks: true });
    expect(env.banners[0]).toContain('Admin key     from ADMIN_API_KEY');
    expect(() => statSync(join(dir, 'data', 'admin-api-key'))).toThrow(/ENOENT/);
  });

  it('names the key file when its content cannot be a key', () => {
    const file = join(dir, 'key');
    writeFileSync(file, 'short\n');
    const config = loadConfig({ ADMIN_KEY_FILE: file });
    expect(() => ensureAdminKey(config)).toThrow(ConfigError);
    expect(() => ensureAdminKey(config)).toThrow(`The admin key in ${file} must be one line of at least 16 characters`);
  });

  it('names the variables that place the key file when its folder cannot be made or read', () => {
    // The database path runs through a file, so neither the key file nor its folder can exist.
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    const config = loadConfig({ DATABASE_URL: join(blocker, 'charbridge.db') });
    expect(() => ensureAdminKey(config)).toThrow(ConfigError);
    expect(() => ensureAdminKey(config)).toThrow(
      `Cannot read the admin key file ${join(blocker, 'admin-api-key')}: ENOTDIR: not a directory, stat '${join(blocker, 'admin-api-key')}'. It is kept beside the database file (DATABASE_URL) unless ADMIN_KEY_FILE names another: point the one you use to a readable place, or set ADMIN_API_KEY.`,
    );
    // A folder that is a link to nowhere: the key file is not there, and the folder cannot be made.
    symlinkSync(join(dir, 'nowhere', 'at-all'), join(dir, 'dangling'));
    const unmakeable = loadConfig({ ADMIN_KEY_FILE: join(dir, 'dangling', 'admin-api-key') });
    expect(() => ensureAdminKey(unmakeable)).toThrow(/^Cannot write the admin key file .*: ENOENT.*\. It is kept beside the database file \(DATABASE_URL\) unless ADMIN_KEY_FILE names another: point the one you use to a writable place, or set ADMIN_API_KEY\.$/);
  });
});
