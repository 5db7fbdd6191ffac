/**
 * A chat's line shared by two instances through Redis: a platform turn keeps its place until its
 * reply is delivered, so the chat's next turn — answered by the other instance — neither runs nor
 * sends before the earlier reply has gone out. A reply that is never delivered holds the line for
 * at most `MAX_DELIVERY_HOLD_MS`; a turn with nothing to deliver (an API or scheduled turn) leaves
 * when its task ends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeyedSerialQueue } from '../../src/core/serial.js';
import { inChatLine } from '../../src/engine/steps/serialize.js';
import { hasRedis } from '../helpers/services.js';
import { coordinationPairs } from '../helpers/coordinations.js';

const CHAT = 'telegram:1:chat:-100777';

/** A promise with its resolver, standing for a reply the adapter has not delivered yet. */
function pending(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe.skipIf(!hasRedis())("a chat's line across instances", () => {
  const pairs = coordinationPairs(3000);
  afterEach(() => pairs.close());

  it("runs the chat's next turn on another instance only once the earlier reply is delivered", async () => {
    const [a, b] = await pairs.two();
    const lineA = inChatLine(new KeyedSerialQueue(), a.chatOrder);
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder);
    const seen: string[] = [];
    const delivered = pending();
    // Both take their places on arrival, first before second, as the engine does.
    const first = a.chatOrder!.enter(CHAT);
    await first;
    const second = b.chatOrder!.enter(CHAT);
    const firstRun = lineA(CHAT, async () => void seen.push('first stored'), { ticket: first, delivered: delivered.promise });
    const secondRun = lineB(CHAT, async () => void seen.push('second runs'), { ticket: second, delivered: Promise.resolve() });
    await firstRun;
    // The second instance is woken when a place is left (pub/sub) and polls besides; give it the
    // chance to run early that it had before, then deliver.
    await new Promise((r) => setTimeout(r, 400));
    seen.push('first delivered');
    delivered.resolve();
    await secondRun;
    expect(seen).toEqual(['first stored', 'first delivered', 'second runs']);
  });

  it('gives the place back when the task ends for a turn with no reply to wait for', async () => {
    const [a, b] = await pairs.two();
    const lineA = inChatLine(new KeyedSerialQueue(), a.chatOrder);
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder);
    const seen: string[] = [];
    // An API or scheduled turn: no place taken on arrival, nothing delivered through the line.
    await lineA(CHAT, async () => void seen.push('api turn'));
    await lineB(CHAT, async () => void seen.push('next turn'));
    expect(seen).toEqual(['api turn', 'next turn']);
  });

  it('moves on after the longest hold when a reply is never delivered', async () => {
    const [a, b] = await pairs.two();
    const lineA = inChatLine(new KeyedSerialQueue(), a.chatOrder, undefined, 300);
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder);
    const never = pending();
    const first = a.chatOrder!.enter(CHAT);
    await first;
    const second = b.chatOrder!.enter(CHAT);
    await lineA(CHAT, async () => undefined, { ticket: first, delivered: never.promise });
    const started = Date.now();
    expect(await lineB(CHAT, async () => 'next turn ran', { ticket: second })).toBe('next turn ran');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250); // held, not skipped (a lower bound, not a speed)
  });
});
