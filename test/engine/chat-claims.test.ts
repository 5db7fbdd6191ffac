/**
 * Whether a message still owes its reply is asked by every turn of its chat waiting for it, on
 * each look at the line: one read of the database serves them all for a while, so the reads grow
 * with the messages owed, not with the turns waiting.
 */
import { afterEach, expect, it } from 'vitest';
import { owedReply } from '../../src/engine/chat-claims.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

it('asks the database once for many turns waiting on one message, again after a while, and never once it is answered', async () => {
  h = await startHarness();
  const { store, clock } = h;
  await store.instances.register('a', clock.now());
  await store.events.claim({ platform: 'telegram', eventId: '1', owner: 'a', now: clock.now(), deadAfterMs: 10_000, leaseMs: 120_000, payload: '{}' });
  const read = store.events.state.bind(store.events);
  let reads = 0;
  store.events.state = (platform, eventId) => (reads++, read(platform, eventId));
  const owed = owedReply({ store });

  expect(await Promise.all(Array.from({ length: 50 }, () => owed('telegram:1')))).toEqual(Array(50).fill(true));
  expect(reads).toBe(1);
  expect(await owed('telegram:2')).toBe(false); // never claimed: owes nothing
  expect(reads).toBe(2);

  await store.events.complete('telegram', '1');
  await new Promise((r) => setTimeout(r, 300));
  expect(await owed('telegram:1')).toBe(false);
  const after = reads;
  await new Promise((r) => setTimeout(r, 300));
  expect(await Promise.all([owed('telegram:1'), owed('telegram:1')])).toEqual([false, false]);
  expect(reads).toBe(after);
});
