/** A message is confirmed to Telegram only once it is on disk: a busy database delays it, never loses it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { outage } from '../../helpers/dropped-connection.js';
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

  it("holds the update unconfirmed for longer than telegraf's own handler deadline (90 s): a database down for minutes delays it, never loses it", async () => {
    w = await startWorld();
    const claiming = outage(w.h.store.events, 'claimOutcome');
    // The claim's tries and telegraf's deadline wait on a fake clock, moved past that deadline.
    // Real time passes meanwhile only for network round trips (setImmediate is not faked).
    const realPause = async (ms: number) => {
      for (const end = performance.now() + ms; performance.now() < end; ) await new Promise((r) => setImmediate(r));
    };
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const update = w.say('hello through a long outage');
      while (claiming.calls() === 0) await realPause(10);
      for (let waited = 0; waited < 120_000; waited += 5_000) {
        await vi.advanceTimersByTimeAsync(5_000);
        await realPause(20);
      }
      expect(claiming.calls()).toBeGreaterThan(20);
      // Not asked again: its next getUpdates, parked or answered, would confirm the update.
      expect(w.fake.pendingPolls).toBe(0);
      expect(w.fake.calls.some((c) => c.method === 'getUpdates' && Number(c.params.offset ?? 0) > update.update_id)).toBe(false);
      // Back: the claim's next try lands (its pause is at most 5 s); the turn then runs on real time.
      claiming.end();
      await vi.advanceTimersByTimeAsync(5_000);
    } finally {
      vi.useRealTimers();
    }
    await expectTexts(w, ['Echo: hello through a long outage']);
    expect(w.texts()).toEqual(['Echo: hello through a long outage']);
  });
});
