/**
 * The outbound budget of a single process that keeps each chat's sends past itself
 * (`rememberedChats`): after a restart, a chat's first use reads the sends the run before made
 * into its count, once, before any of its tasks starts; every send it counts is added. Virtual
 * time and an in-memory tally, so every start time is exact.
 */
import { describe, expect, it } from 'vitest';
import { OutboundBudget, SKIPPED, type BudgetOptions, type RateWindow } from '../../../adapters/shared/budget.js';
import type { SharedTally } from '../../../src/core/outbound-window.js';
import { VirtualTime } from './virtual-time.js';

/** Slack's channel window: 3 sends in any 3 s, one of them kept for `high` work. */
const channel: RateWindow = { max: 3, windowMs: 3000, reserve: 1 };

/** What the run before left in one chat's tally, and what this one reads and adds. */
class MemoryTally implements SharedTally {
  reads = 0;
  added: number[] = [];
  constructor(
    private readonly now: () => number,
    private readonly before: number[] | Promise<number[]> = [],
  ) {}
  async calls(): Promise<number[]> {
    this.reads++;
    return this.before;
  }
  async add(at?: number): Promise<number> {
    this.added.push(at ?? this.now());
    return 0;
  }
  async move(from: number, to: number): Promise<void> {
    this.added = this.added.map((t) => (t === from ? to : t));
  }
}

function setup(tallies: Record<string, MemoryTally | undefined>, over: Partial<BudgetOptions> = {}) {
  const vt = new VirtualTime();
  vt.t = 100_000;
  const made: string[] = [];
  const budget = new OutboundBudget({
    windowsFor: () => [channel],
    rememberedChats: (key) => {
      made.push(key);
      return tallies[key];
    },
    retryAfterMs: () => undefined,
    now: vt.now,
    sleep: vt.sleep,
    ...over,
  });
  const starts: Array<[string, number]> = [];
  const send = (key: string, priority: 'high' | 'normal' = 'high') => budget.run(key, async () => void starts.push([key, vt.now()]), { priority });
  return { vt, budget, starts, send, made };
}

describe('OutboundBudget with chats remembered past the process', () => {
  it('holds a chat’s first sends exactly until the sends before the restart leave its window', async () => {
    // The run before sent three times into C1 in the last 2.5 s, then died.
    const tallies = { C1: new MemoryTally(() => vt.now(), [97_500, 98_000, 99_000]) };
    const { vt, starts, send } = setup(tallies);
    await vt.run(Promise.all([send('C1'), send('C1'), send('C1', 'normal')]));
    // The window is full (3 of 3): the first high waits for 97 500 to leave it, the second for
    // 98 000; `normal` stops at 2 of 3, so it waits until 99 000 and this run's 100 500 have left.
    expect(starts).toEqual([
      ['C1', 100_500],
      ['C1', 101_000],
      ['C1', 103_500],
    ]);
    // Read once; every counted send added, at its own time.
    expect(tallies.C1.reads).toBe(1);
    expect(tallies.C1.added).toEqual([100_500, 101_000, 103_500]);
  });

  it('reads a chat once, and a chat with nothing before sends at once; a chat without a tally never reads', async () => {
    const tallies = { C2: new MemoryTally(() => vt.now()), D1: undefined };
    const { vt, starts, send, made } = setup(tallies);
    await vt.run(Promise.all([send('C2'), send('C2'), send('D1'), send('D1')]));
    await vt.run(send('C2'));
    expect(starts.filter(([k]) => k === 'C2').map(([, t]) => t)).toEqual([100_000, 100_000, 100_000]);
    expect(starts.filter(([k]) => k === 'D1').map(([, t]) => t)).toEqual([100_000, 100_000]);
    expect(tallies.C2.reads).toBe(1);
    expect(made).toEqual(['C2', 'D1']); // asked once per chat
  });

  it('counts only what the platform counted: a SKIPPED task is not added', async () => {
    const tallies = { C3: new MemoryTally(() => vt.now()) };
    const { vt, budget } = setup(tallies);
    await vt.run(budget.run('C3', async () => SKIPPED));
    await vt.run(budget.run('C3', async () => 'sent'));
    expect(tallies.C3.added).toEqual([100_000]);
  });

  it('counts a task that says its call is leaving before the call, even when the call then fails, and only once', async () => {
    const tallies = { C5: new MemoryTally(() => vt.now()) };
    const { vt, budget } = setup(tallies);
    const seen: number[][] = [];
    const failing = budget.run('C5', async (beforeCall) => {
      await beforeCall();
      await beforeCall();
      seen.push([...tallies.C5.added]); // counted before the call leaves
      throw new Error('the answer never came');
    });
    await expect(vt.run(failing)).rejects.toThrow('the answer never came');
    await vt.run(budget.run('C5', async () => SKIPPED)); // decided to send nothing: not counted
    expect(seen).toEqual([[100_000]]);
    expect(tallies.C5.added).toEqual([100_000]);
  });

  it('dates a call noted as it leaves ahead by the longest recent answer time, and moves it to its answer when that came later', async () => {
    const tallies = { C6: new MemoryTally(() => vt.now()) };
    const { vt, budget } = setup(tallies);
    const left: number[] = [];
    /** One call that takes `ms` to be answered; what the tally holds once it is. */
    const call = async (ms: number) => {
      await vt.run(
        budget.run(
          'C6',
          async (beforeCall) => {
            left.push(vt.now());
            await beforeCall();
            await vt.sleep(ms);
            return 'sent';
          },
          { priority: 'high' },
        ),
      );
      return [...tallies.C6.added];
    };
    // Nothing measured yet: noted as it leaves, then moved to its answer 120 ms later.
    expect(await call(120)).toEqual([left[0]! + 120]);
    // Noted 120 ms ahead; answered after 50: the note stays (later than the platform counted it).
    expect((await call(50)).at(-1)).toBe(left[1]! + 120);
    // Noted 120 ms ahead; answered after 300: moved to the answer.
    expect((await call(300)).at(-1)).toBe(left[2]! + 300);
    // A slow call raises the lead only up to a second.
    vt.t += 10_000;
    await call(5000);
    expect((await call(10)).at(-1)).toBe(left[4]! + 1000);
  });

  it('keeps tasks queued while the read is under way, drops one aborted meanwhile, and takes a failed read as nothing before', async () => {
    let answer!: (times: number[]) => void;
    const tallies = { C4: new MemoryTally(() => vt.now(), new Promise<number[]>((r) => (answer = r))) };
    const { vt, budget, starts, send } = setup(tallies);
    const first = send('C4');
    const gone = new AbortController();
    const aborted = budget.run('C4', async () => void starts.push(['aborted', vt.now()]), { signal: gone.signal });
    const last = send('C4');
    // Typing is best effort: not while the chat's count is unknown.
    expect(budget.tryNow('C4', async () => undefined)).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(starts).toEqual([]);
    gone.abort();
    expect(await aborted).toBe(SKIPPED);
    answer([99_000]);
    await vt.run(Promise.all([first, last]));
    expect(starts).toEqual([
      ['C4', 100_000],
      ['C4', 100_000], // 99 000 and this run's first: 2 of 3 (high may use all three)
    ]);

    const failing: SharedTally = { calls: () => Promise.reject(new Error('database gone')), add: async () => 0 };
    const broken = setup({}, { rememberedChats: () => failing });
    await broken.vt.run(broken.send('C5'));
    expect(broken.starts).toEqual([['C5', 100_000]]);
  });

  it('is not given with sharedChats: several instances count a chat together instead', () => {
    expect(
      () => new OutboundBudget({ windowsFor: () => [channel], sharedChats: () => undefined, rememberedChats: () => undefined, retryAfterMs: () => undefined }),
    ).toThrow(/either `sharedChats` or `rememberedChats`/);
  });
});
