/** A message is confirmed to Telegram only once it is on disk: a busy database delays it, never loses it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { expectTexts, startWorld, waitFor, type World } from './world.js';

let w: World | undefined;
let dir: string | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Telegram and a busy database', () => {
  it('holds the update unconfirmed while the claim cannot be written, then answers it once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cb-tg-busy-'));
    const file = join(dir, 'db.sqlite');
    w = await startWorld({ dbPath: file });
    const other = new SQLite(file);
    other.prepare('begin immediate').run();
    const update = w.say('hello while the disk is busy');
    await waitFor(() => w!.h.engine.stats().inFlight === 1, 10_000, 'the turn to wait for its claim');
    // telegraf confirms an update with its next getUpdates (offset past it); it has not asked yet.
    expect(w.fake.pendingPolls).toBe(0);
    expect(w.fake.calls.some((c) => c.method === 'getUpdates' && Number(c.params.offset ?? 0) > update.update_id)).toBe(false);
    expect(w.texts()).toEqual([]);
    other.prepare('commit').run();
    other.close();
    await expectTexts(w, ['Echo: hello while the disk is busy']);
    await w.fake.idle(); // every update confirmed, a new poll parked
    expect(w.texts()).toEqual(['Echo: hello while the disk is busy']);
  });
});
