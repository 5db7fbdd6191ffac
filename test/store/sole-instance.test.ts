/**
 * The sole-instance lock on a SQLite file: one living process holds it, and the operating system
 * frees it when that process dies, however it dies — so a process that gets it knows every earlier
 * run on the file has stopped (a crashed run's claims can be answered at once).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';

const open: Store[] = [];
const dirs: string[] = [];
const kill: Array<() => void> = [];
afterEach(async () => {
  while (kill.length) kill.pop()!();
  while (open.length) await open.pop()!.close();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});
async function storeAt(path: string): Promise<Store> {
  const s = await openStore(path);
  open.push(s);
  return s;
}
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cb-sole-'));
  dirs.push(dir);
  return join(dir, 'charbridge.db');
}

describe('sole-instance lock', () => {
  it('is held by one store at a time and freed when it closes; a private database cannot prove anything', async () => {
    const path = tempDb();
    const a = await storeAt(path);
    const b = await storeAt(path);
    expect(a.claimSoleInstance()).toBe(true);
    expect(a.claimSoleInstance()).toBe(true); // kept, not taken twice
    expect(b.claimSoleInstance()).toBe(false);
    await open.shift()!.close();
    expect(b.claimSoleInstance()).toBe(true);
    expect((await storeAt(':memory:')).claimSoleInstance()).toBe(false);
  });

  it('is freed when the process holding it is killed', async () => {
    const path = tempDb();
    // The release is kept reachable, as the store keeps it: a collected connection closes, and frees the lock.
    const script = `const m = await import('./src/store/db.ts'); globalThis.held = m.holdSoleInstanceLock(process.argv[1]); console.log(globalThis.held ? 'held' : 'refused'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    kill.push(() => child.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      child.on('exit', (code) => reject(new Error(`the lock holder exited early (${code})`)));
    });
    const store = await storeAt(path);
    expect(store.claimSoleInstance()).toBe(false);
    child.kill('SIGKILL');
    await exited;
    expect(store.claimSoleInstance()).toBe(true);
  });
});
