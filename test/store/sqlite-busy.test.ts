/** Another process holding SQLite's write lock slows a turn down; it never freezes the event loop or fails the turn. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { inbound, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SQLite held by another process', () => {
  it('waits for the lock asynchronously: the event loop keeps turning, and the turn completes once the lock is gone', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cb-busy-'));
    const file = join(dir, 'db.sqlite');
    h = await startHarness({ dbPath: file });
    const other = new SQLite(file);
    other.prepare('begin immediate').run();
    other.prepare("insert into bindings (key, character_id, updated_at) values ('x', 'y', 'z')").run();
    let done = false;
    const reply = h.engine
      .handle(inbound({ text: 'are you there?' }))
      .collect()
      .then((events) => {
        done = true;
        return events;
      });
    // While the lock is held the turn waits, and the loop serves everything else meanwhile.
    let turns = 0;
    while (turns < 200) {
      await new Promise((r) => setImmediate(r));
      turns++;
    }
    expect(done).toBe(false);
    other.prepare('commit').run();
    other.close();
    const events = await reply;
    expect(events.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: are you there?' } });
  });
});
