/**
 * The shared streamed reply on a fake clock: previews are paced by the interval, and when there is
 * nothing new to show it waits for the model instead of asking the planner again every interval.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ReplyPlanner } from '../../../src/core/adapter.js';
import { OutboundBudget } from '../../../adapters/shared/budget.js';
import { StreamedReply } from '../../../adapters/shared/streamed-reply.js';
import { testLogger } from '../../helpers/harness.js';

/** Shows the whole text as one message; counts how often it was asked. */
class OneMessage implements ReplyPlanner<string> {
  shown = '';
  plans = 0;
  readonly performed: string[] = [];
  get visible(): number {
    return this.shown ? 1 : 0;
  }
  plan(text: string): string | undefined {
    this.plans++;
    return text && text !== this.shown ? text : undefined;
  }
  async perform(text: string): Promise<void> {
    this.performed.push(text);
    this.shown = text;
  }
}

const INTERVAL = 100;

function reply(planner: OneMessage, firstSendDelayMs = INTERVAL) {
  const budget = new OutboundBudget({ windowsFor: () => [], retryAfterMs: () => undefined });
  return new StreamedReply(planner, { budget, log: testLogger(), tuning: { firstSendDelayMs, editIntervalMs: INTERVAL } }, { key: 'chat', platform: 'test', logContext: {} });
}

describe('StreamedReply', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('waits for new text instead of polling the planner while the model is quiet', async () => {
    const p = new OneMessage();
    const r = reply(p);
    r.append('Hel');
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(p.performed).toEqual(['Hel']);
    const asked = p.plans;
    await vi.advanceTimersByTimeAsync(100 * INTERVAL); // the model says nothing for a long time
    expect(p.plans - asked).toBeLessThanOrEqual(1); // looked once after the interval, then waited
    r.append('lo');
    await vi.advanceTimersByTimeAsync(0);
    expect(p.performed).toEqual(['Hel', 'Hello']); // the interval had passed: shown at once
    await r.finish('Hello!');
    expect(p.performed).toEqual(['Hel', 'Hello', 'Hello!']);
  });

  it('with no first delay, queues the first step before the next delta arrives', async () => {
    const p = new OneMessage();
    const r = reply(p, 0);
    r.append('Hi');
    await vi.advanceTimersByTimeAsync(0);
    expect(p.performed).toEqual(['Hi']);
    await r.finish('Hi');
    expect(p.performed).toEqual(['Hi']); // already shown: the final text needs no step
  });

  it('keeps the streamed text when the final one only differs by surrounding space', async () => {
    const p = new OneMessage();
    const r = reply(p, 0);
    r.append(' Hi there');
    await vi.advanceTimersByTimeAsync(0);
    await r.finish('Hi there');
    expect(p.performed).toEqual([' Hi there']); // a native stream cannot take back the space it showed
  });
});
