/** A reply keeps its sending place for its delivery, up to a bound the database's time away does not use up. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyedSerialQueue } from '../../src/core/serial.js';
import type { ChatOrder, ChatTicket, OwedCheck } from '../../src/engine/limits.js';
import { ReplyStream } from '../../src/engine/reply-stream.js';
import { inChatLine } from '../../src/engine/steps/serialize.js';

afterEach(() => void vi.useRealTimers());

/** One turn whose reply is never reported delivered (its adapter waits on the database); when its sending place was given up. */
async function heldReply(downtime: () => number) {
  let sentAt: number | undefined;
  const ticket: ChatTicket = {
    wait: async () => {},
    waitToSend: async () => {},
    leave: async () => {},
    sent: async () => void (sentAt = Date.now()),
    abandon: () => {},
  };
  const order: ChatOrder = { enter: async () => ticket, adopt: async () => undefined };
  const owed: OwedCheck = Object.assign(async () => false, { downtime });
  const line = inChatLine(new KeyedSerialQueue(), order, undefined, 1000, owed);
  const out = new ReplyStream();
  out.holdDelivery(); // an adapter took the reply and has not said it went out
  await line('telegram:1', async () => 'answered', { ticket: Promise.resolve(ticket), out });
  return { sentAt: () => sentAt };
}

describe("a reply's hold on its chat's next reply", () => {
  it('ends after the bound when the database stayed up', async () => {
    vi.useFakeTimers({ now: 0 });
    const held = await heldReply(() => 0);
    await vi.advanceTimersByTimeAsync(999);
    expect(held.sentAt()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(held.sentAt()).toBe(1000);
  });

  it('is longer by the time the database was away meanwhile: an outage does not let the next reply overtake', async () => {
    vi.useFakeTimers({ now: 0 });
    let down = 0;
    const held = await heldReply(() => down);
    await vi.advanceTimersByTimeAsync(600);
    down = 5000; // the database was unreachable for 5 s (its delivery waited on it)
    await vi.advanceTimersByTimeAsync(4999);
    expect(held.sentAt()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1000);
    expect(held.sentAt()).toBe(6000);
  });
});
