/**
 * The outbound budget under virtual time: pacing per chat and per group window, reserves for
 * high-priority work, 429 wait-out and retry, skips, aborts, typing's idle-only path and the
 * global window. Every timestamp is exact because no real time passes.
 */
import { describe, expect, it } from 'vitest';
import { OutboundBudget, SKIPPED, type BudgetOptions, type RateWindow } from '../../../adapters/shared/budget.js';
import { VirtualTime } from './virtual-time.js';

class RateLimited extends Error {
  constructor(readonly retryAfterMs: number) {
    super('429');
  }
}

const perSecond: RateWindow = { max: 1, windowMs: 1000 };
const perMinute: RateWindow = { max: 20, windowMs: 60_000, reserve: 4 };

function setup(over: Partial<BudgetOptions> = {}) {
  const vt = new VirtualTime();
  const budget = new OutboundBudget({
    windowsFor: (key) => (key.startsWith('-') ? [perSecond, perMinute] : [perSecond]),
    retryAfterMs: (err) => (err instanceof RateLimited ? err.retryAfterMs : undefined),
    now: vt.now,
    sleep: vt.sleep,
    ...over,
  });
  const starts: Array<[string, number]> = [];
  const send = (key: string, label = key) => budget.run(key, async () => void starts.push([label, vt.now()]));
  return { vt, budget, starts, send };
}

describe('OutboundBudget', () => {
  it('paces one chat at its window and lets other chats go in parallel', async () => {
    const { vt, starts, send } = setup();
    await vt.run(Promise.all([send('1'), send('1'), send('1'), send('2'), send('2')]));
    expect(starts.filter(([k]) => k === '1').map(([, t]) => t)).toEqual([0, 1000, 2000]);
    expect(starts.filter(([k]) => k === '2').map(([, t]) => t)).toEqual([0, 1000]);
  });

  it('reports the line: tasks waiting now, and how long started ones waited in total', async () => {
    const { vt, budget, send } = setup();
    const all = Promise.all([send('1'), send('1'), send('1')]);
    expect(budget.stats()).toMatchObject({ queued: 2, started: 1, waitedMs: 0 }); // the first one started at once
    await vt.run(all);
    expect(budget.stats()).toMatchObject({ queued: 0, started: 3, waitedMs: 1000 + 2000 });
  });

  it('holds a group to 20 per minute', async () => {
    const { vt, starts, send } = setup();
    await vt.run(Promise.all(Array.from({ length: 22 }, () => send('-100'))));
    const times = starts.map(([, t]) => t);
    expect(times.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i * 1000));
    expect(times[20]).toBe(60_000); // the first send leaves the window
    expect(times[21]).toBe(61_000);
  });

  it('keeps the reserve for high-priority work: normal stops at max - reserve', async () => {
    const { vt, budget, starts } = setup();
    const normal = Array.from({ length: 17 }, (_, i) => budget.run('-5', async () => void starts.push([`n${i}`, vt.now()]), { priority: 'normal' }));
    await vt.run(Promise.all(normal.slice(0, 16)));
    expect(starts).toHaveLength(16);
    const high = budget.run('-5', async () => void starts.push(['high', vt.now()]), { priority: 'high' });
    await vt.run(high);
    expect(starts.at(-1)).toEqual(['high', 16_000]); // ahead of the 17th normal task, within the reserve
    await vt.run(normal[16]!);
    expect(starts.at(-1)).toEqual(['n16', 61_000]); // 17 used; normal may use 16: two must leave the window
  });

  it('runs high before queued normal tasks, FIFO within a priority', async () => {
    const { vt, budget, starts } = setup();
    const run = (label: string, priority: 'high' | 'normal') => budget.run('1', async () => void starts.push([label, vt.now()]), { priority });
    await vt.run(Promise.all([run('n1', 'normal'), run('n2', 'normal'), run('h1', 'high'), run('h2', 'high')]));
    // n1 started at once (the queue was empty); then the highs, then n2.
    expect(starts.map(([l]) => l)).toEqual(['n1', 'h1', 'h2', 'n2']);
  });

  it('waits out a 429 before anything else goes to that chat, retries, and never rejects', async () => {
    const limited: number[] = [];
    const { vt, budget, starts, send } = setup({ onRateLimited: (_k, ms) => limited.push(ms) });
    let refusals = 2;
    const flaky = budget.run('1', async () => {
      starts.push(['flaky', vt.now()]);
      if (refusals-- > 0) throw new RateLimited(5000);
      return 'ok';
    });
    const after = send('1', 'after');
    const other = send('2', 'other chat');
    expect(await vt.run(Promise.all([flaky, after, other]))).toEqual(['ok', undefined, undefined]);
    expect(starts).toEqual([
      ['flaky', 0],
      ['other chat', 0],
      ['flaky', 5000],
      ['flaky', 10_000],
      ['after', 11_000],
    ]);
    expect(limited).toEqual([5000, 5000]);
    expect(budget.stats()).toMatchObject({ rateLimited: 2, sent: 3 });
  });

  it('gives up after maxAttempts and rejects with the last error', async () => {
    const { vt, budget } = setup({ maxAttempts: 3 });
    let tries = 0;
    const p = budget.run('1', async () => {
      tries++;
      throw new RateLimited(1000);
    });
    await expect(vt.run(p)).rejects.toBeInstanceOf(RateLimited);
    expect(tries).toBe(3);
  });

  it('passes other errors straight through without pausing the chat', async () => {
    const { vt, budget, starts, send } = setup();
    const bad = budget.run('1', async () => {
      throw new Error('400 Bad Request');
    });
    await expect(vt.run(bad)).rejects.toThrow('400');
    expect(budget.isPaused('1')).toBe(false);
    await vt.run(send('1'));
    expect(starts).toEqual([['1', 1000]]); // the failed call still counted (conservative)
  });

  it('does not count a SKIPPED task against the window', async () => {
    const { vt, budget, starts, send } = setup();
    const skip = budget.run('1', async () => SKIPPED);
    expect(await vt.run(skip)).toBe(SKIPPED);
    await vt.run(send('1'));
    expect(starts).toEqual([['1', 0]]);
  });

  it('drops a queued task when its signal aborts', async () => {
    const { vt, budget, starts, send } = setup();
    const first = send('1', 'first');
    const ac = new AbortController();
    const dropped = budget.run('1', async () => void starts.push(['dropped', vt.now()]), { signal: ac.signal, priority: 'normal' });
    ac.abort();
    expect(await vt.run(dropped)).toBe(SKIPPED);
    await vt.run(Promise.all([first, send('1', 'next')]));
    expect(starts.map(([l]) => l)).toEqual(['first', 'next']);
    expect(budget.stats().skipped).toBe(1);
  });

  it('runs typing (tryNow) only when the chat is idle and not paused, without using a slot', async () => {
    const { vt, budget, starts, send } = setup();
    let typed = 0;
    const typing = () => budget.tryNow('1', async () => void typed++);
    expect(typing()).toBe(true);
    const busy = send('1');
    expect(typing()).toBe(false); // a real send is queued or in flight
    await vt.run(busy);
    expect(typing()).toBe(true);
    await vt.run(send('1', 'second'));
    expect(starts.map(([, t]) => t)).toEqual([0, 1000]); // typing did not push sends back

    const failing = budget.tryNow('1', async () => {
      throw new RateLimited(3000);
    });
    expect(failing).toBe(true);
    await vt.run(Promise.resolve());
    expect(budget.isPaused('1')).toBe(true);
    expect(typing()).toBe(false);
    expect(typed).toBe(2);
  });

  it('counts typing where the platform does: skipped when its own window or a normal shared slot is not free now', async () => {
    const { vt, budget, starts } = setup({ windowsFor: () => [], global: [{ max: 4, windowMs: 1000, reserve: 1 }] });
    const counted = { windows: [{ max: 2, windowMs: 1000 }], shared: true };
    let typed = 0;
    const typing = (key: string) => budget.tryNow(key, async () => void typed++, counted);
    expect([typing('a'), typing('a'), typing('a')]).toEqual([true, true, false]); // a's typing bucket holds 2
    await vt.run(Promise.resolve());
    expect(typing('b')).toBe(true); // the 3rd normal slot of the bot-wide 4 (one is reserved for high)
    await vt.run(Promise.resolve());
    expect(typing('c')).toBe(false); // only the reserved slot is left: typing never takes it
    const sent = budget.run('d', async () => void starts.push(['d', vt.now()]), { priority: 'high' });
    await vt.run(sent);
    expect(starts).toEqual([['d', 0]]); // a real message still had its slot at once
    expect(typed).toBe(3);
    vt.t += 1000;
    expect(typing('a')).toBe(true); // the windows moved on
  });

  it('shares global windows across chats, counting sends still in flight', async () => {
    const { vt, budget, starts } = setup({ windowsFor: () => [], global: [{ max: 3, windowMs: 1000 }] });
    const slow = (key: string) =>
      budget.run(key, async () => {
        starts.push([key, vt.now()]);
        await vt.sleep(100);
      });
    await vt.run(Promise.all(['a', 'b', 'c', 'd', 'e'].map(slow)));
    const times = Object.fromEntries(starts);
    expect([times.a, times.b, times.c]).toEqual([0, 0, 0]);
    expect(times.d).toBeGreaterThanOrEqual(1100); // slots count from when a send finished
    expect(times.e).toBeGreaterThanOrEqual(1100);
  });
});
