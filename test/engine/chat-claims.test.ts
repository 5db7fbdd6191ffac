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
  const owed = owedReply({ store }, 1000);

  expect(await Promise.all(Array.from({ length: 50 }, () => owed('telegram:1')))).toEqual(Array(50).fill(true));
  expect(reads).toBe(1);
  expect(reads).toBe(1);

  await store.events.complete('telegram', '1');
  await new Promise((r) => setTimeout(r, 300));
  expect(await owed('telegram:1')).toBe(false);
  const after = reads;
  await new Promise((r) => setTimeout(r, 300));
  expect(await Promise.all([owed('telegram:1'), owed('telegram:1')])).toEqual([false, false]);
  expect(reads).toBe(after);
});

it('counts a message never recorded as owed for a while after it is first asked about (the platform may give it back), then not', async () => {
  h = await startHarness();
  const { store, clock } = h;
  const owed = owedReply({ store }, 600);
  expect(await owed('telegram:2')).toBe(true);
  await new Promise((r) => setTimeout(r, 700));
  expect(await owed('telegram:2')).toBe(false);
  // Given back meanwhile and recorded, it owes its reply again until answered.
  await store.instances.register('a', clock.now());
  await store.events.claim({ platform: 'telegram', eventId: '3', owner: 'a', now: clock.now(), deadAfterMs: 10_000, leaseMs: 120_000, payload: '{}' });
  expect(await owed('telegram:3')).toBe(true);
  await new Promise((r) => setTimeout(r, 700));
  expect(await owed('telegram:3')).toBe(true);
});
