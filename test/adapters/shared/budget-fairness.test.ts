/**
 * Fairness of the outbound budget when the shared (per-bot) window is the bottleneck, under
 * virtual time: who gets each free slot is decided by priority and by how long a task has
 * waited, never by which chat's timer fired first. Also the shared-window seam: several budgets
 * (instances of one bot) sharing one window, and a window that answers asynchronously.
 */
import { describe, expect, it } from 'vitest';
import { OutboundBudget, SKIPPED, type BudgetOptions, type Priority, type RateWindow } from '../../../adapters/shared/budget.js';
import { LocalSharedWindow, type SharedWindow } from '../../../adapters/shared/shared-window.js';
import { VirtualTime } from './virtual-time.js';

const perSecond: RateWindow = { max: 1, windowMs: 1000 };
const botWide: RateWindow = { max: 30, windowMs: 1000, reserve: 5 };

function setup(over: Partial<BudgetOptions> = {}, vt = new VirtualTime()) {
  const budget = new OutboundBudget({
    windowsFor: () => [perSecond],
    ...(over.shared ? {} : { global: [botWide] }),
    retryAfterMs: () => undefined,
    now: vt.now,
    sleep: vt.sleep,
    ...over,
  });
  const starts: Array<{ label: string; at: number; waited: number; priority: Priority }> = [];
  /** Queue a send now; records when it started and how long it waited in line. */
  const send = (key: string, label: string, priority: Priority = 'high', b = budget) => {
    const queued = vt.now();
    return b.run(key, async () => void starts.push({ label, at: vt.now(), waited: vt.now() - queued, priority }), { priority });
  };
  /** `send` at virtual time `at`. */
  const sendAt = (at: number, key: string, label: string, priority: Priority = 'high') => vt.sleep(at - vt.now()).then(() => send(key, label, priority));
  return { vt, budget, starts, send, sendAt };
}

/** N chats' turn on a window of `max` per `windowMs`, in whole windows: ceil(N / max) windows. */
const fairShareRoundedUp = (chats: number, w: RateWindow) => Math.ceil(chats / w.max) * w.windowMs;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Largest number of `times` inside any window of `windowMs`. */
function busiestWindow(times: number[], windowMs: number): number {
  const s = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i]! - s[j]! >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('OutboundBudget fairness under a shared window', () => {
  it('serves 50 chats contending for 30 slots a second round-robin: no head task waits over one fair share', async () => {
    const { vt, starts, send } = setup();
    const chats = 50;
    const rounds = 12;
    // Closed loop: each chat queues its next send as soon as the previous one went out.
    await vt.run(Promise.all(Array.from({ length: chats }, async (_, c) => {
      for (let r = 0; r < rounds; r++) await send(`chat${c}`, `c${c}r${r}`);
    })));
    expect(starts).toHaveLength(chats * rounds);
    expect(busiestWindow(starts.map((s) => s.at), botWide.windowMs)).toBeLessThanOrEqual(botWide.max);
    // 30 sends leave together whenever the window frees (Telegram allows the burst), so a wait is
    // a whole number of windows: one fair share (50/30 s) on average, rounded up at worst.
    const fairShareMs = (chats * botWide.windowMs) / botWide.max;
    const waits = starts.filter((s) => s.at >= 2 * fairShareMs).map((s) => s.waited); // after the first full rotation
    expect(Math.max(...waits)).toBeLessThanOrEqual(fairShareRoundedUp(chats, botWide));
    expect(Math.abs(mean(waits) - fairShareMs)).toBeLessThan(0.05 * fairShareMs);
    // Every chat got exactly its share in every rotation: the chats finished within one rotation of each other.
    const lastOf = (c: number) => starts.filter((s) => s.label.startsWith(`c${c}r`)).at(-1)!.at;
    const finishes = Array.from({ length: chats }, (_, c) => lastOf(c));
    expect(Math.max(...finishes) - Math.min(...finishes)).toBeLessThanOrEqual(fairShareMs);
  });

  it('hands each free slot to the task that has waited longest, whatever its chat', async () => {
    const { vt, starts, send, sendAt } = setup({ windowsFor: () => [], global: [{ max: 1, windowMs: 1000 }] });
    await vt.run(Promise.all([
      send('z', 'z1'), // takes the only slot at 0
      sendAt(100, 'c', 'c1'),
      sendAt(200, 'b', 'b1'),
      sendAt(300, 'c', 'c2'), // c's next task is younger than b1 and a1: it must not jump ahead
      sendAt(400, 'a', 'a1'),
    ]));
    expect(starts.map((s) => [s.label, s.at])).toEqual([['z1', 0], ['c1', 1000], ['b1', 2000], ['c2', 3000], ['a1', 4000]]);
  });

  it('serves high before normal across chats', async () => {
    const { vt, starts, send, sendAt } = setup({ windowsFor: () => [], global: [{ max: 1, windowMs: 1000 }] });
    await vt.run(Promise.all([
      send('x', 'x'),
      sendAt(100, 'a', 'preview a', 'normal'),
      sendAt(200, 'b', 'preview b', 'normal'),
      sendAt(300, 'c', 'final c'),
      sendAt(400, 'd', 'final d'),
    ]));
    expect(starts.map((s) => s.label)).toEqual(['x', 'final c', 'final d', 'preview a', 'preview b']);
  });

  it("skips a chat that its own window or a 429 holds back, without holding back anyone else", async () => {
    class RateLimited extends Error {}
    const { vt, budget, starts, send } = setup({
      windowsFor: () => [perSecond],
      global: [{ max: 1, windowMs: 400 }],
      retryAfterMs: (err) => (err instanceof RateLimited ? 3000 : undefined),
    });
    let refused = false;
    const flaky = budget.run('p', async () => {
      if (!refused) {
        refused = true;
        throw new RateLimited('429');
      }
      starts.push({ label: 'p1', at: vt.now(), waited: 0, priority: 'high' });
    });
    await vt.run(Promise.all([flaky, send('a', 'a1'), send('a', 'a2'), send('b', 'b1'), send('c', 'c1')]));
    // p's first try is refused at 0 (its slot is given back): p waits until 3000. a2 was queued
    // before b1 and c1, but a's own window holds it until 1000, so they go first.
    expect(starts.map((s) => [s.label, s.at])).toEqual([['a1', 0], ['b1', 400], ['c1', 800], ['a2', 1200], ['p1', 3000]]);
  });

  it('lands final texts within about one fair share while every chat streams previews', async () => {
    const { vt, budget, starts, send } = setup();
    const chats = 50;
    let finalsQueued = false;
    const previews = Array.from({ length: chats }, async (_, c) => {
      while (!finalsQueued) await send(`chat${c}`, `preview ${c}`, 'normal');
    });
    const finals = vt.sleep(5000).then(() => {
      finalsQueued = true;
      return Promise.all(Array.from({ length: chats }, (_, c) => send(`chat${c}`, `final ${c}`)));
    });
    await vt.run(Promise.all([...previews, finals]));
    const finalWaits = starts.filter((s) => s.priority === 'high').map((s) => s.waited);
    expect(finalWaits).toHaveLength(chats);
    expect(Math.max(...finalWaits)).toBeLessThanOrEqual(fairShareRoundedUp(chats, botWide));
    const lastFinal = Math.max(...starts.filter((s) => s.priority === 'high').map((s) => s.at));
    expect(starts.filter((s) => s.priority === 'normal' && s.at > 5000 && s.at < lastFinal)).toHaveLength(0);
    expect(budget.stats().sent).toBe(starts.length);
  });
});

describe('shared windows', () => {
  it('keeps two budgets (two instances of one bot) under one shared limit together', async () => {
    const vt = new VirtualTime();
    const shared = new LocalSharedWindow([{ max: 3, windowMs: 1000 }], vt.now);
    const instance = () => new OutboundBudget({ windowsFor: () => [], shared, retryAfterMs: () => undefined, now: vt.now, sleep: vt.sleep });
    const [one, two] = [instance(), instance()];
    const at: number[] = [];
    const flood = (b: OutboundBudget, prefix: string) => Array.from({ length: 9 }, (_, i) => b.run(`${prefix}${i}`, async () => void at.push(vt.now())));
    await vt.run(Promise.all([...flood(one, 'a'), ...flood(two, 'b')]));
    expect(at).toHaveLength(18);
    expect(busiestWindow(at, 1000)).toBe(3);
    expect(Math.max(...at)).toBeLessThan(6000); // and no slot was left unused for long
  });

  it('works with a window that answers asynchronously, as one kept in another process would', async () => {
    const vt = new VirtualTime();
    const local = new LocalSharedWindow([{ max: 1, windowMs: 1000 }], vt.now);
    let asked = 0;
    const remote: SharedWindow = {
      acquire: async (priority) => {
        asked++;
        await vt.sleep(5); // a round trip
        return local.acquire(priority);
      },
    };
    const { starts, send, sendAt } = setup({ windowsFor: () => [], shared: remote }, vt);
    await vt.run(Promise.all([send('z', 'z1'), sendAt(100, 'b', 'b1'), sendAt(200, 'a', 'a1', 'normal'), sendAt(300, 'c', 'c1')]));
    expect(starts.map((s) => s.label)).toEqual(['z1', 'b1', 'c1', 'a1']);
    expect(busiestWindow(starts.map((s) => s.at), 1000)).toBe(1);
    expect(asked).toBeGreaterThanOrEqual(4);
  });

  it('uses a slot given back at once: a skipped send frees it for the next in line', async () => {
    const { vt, budget, starts, sendAt } = setup({ windowsFor: () => [], global: [{ max: 1, windowMs: 1000 }] });
    const skipped = budget.run('a', async () => {
      await vt.sleep(100);
      return SKIPPED;
    });
    await vt.run(Promise.all([skipped, sendAt(10, 'b', 'b1')]));
    expect(starts.map((s) => [s.label, s.at])).toEqual([['b1', 100]]);
  });

  it('gives a slot back when the task it was asked for is dropped while an asynchronous window answers', async () => {
    const vt = new VirtualTime();
    const local = new LocalSharedWindow([{ max: 1, windowMs: 1000 }], vt.now);
    const remote: SharedWindow = { acquire: (priority) => vt.sleep(5).then(() => local.acquire(priority)) };
    const { budget, starts, sendAt } = setup({ windowsFor: () => [], shared: remote }, vt);
    const ac = new AbortController();
    const dropped = budget.run('a', async () => void starts.push({ label: 'a1', at: vt.now(), waited: 0, priority: 'high' }), { signal: ac.signal });
    const abort = vt.sleep(2).then(() => ac.abort());
    expect(await vt.run(Promise.all([dropped, abort, sendAt(1, 'b', 'b1')]))).toEqual([SKIPPED, undefined, undefined]);
    expect(starts.map((s) => [s.label, s.at])).toEqual([['b1', 10]]);
    expect(budget.stats()).toMatchObject({ sent: 1, skipped: 1 });
  });

  it('never loses a chat that moved ahead in line while an asynchronous window answered for another', async () => {
    const vt = new VirtualTime();
    const local = new LocalSharedWindow([{ max: 10, windowMs: 1000 }], vt.now);
    const remote: SharedWindow = { acquire: (priority) => vt.sleep(5).then(() => local.acquire(priority)) };
    const { starts, send, sendAt } = setup({ windowsFor: () => [], shared: remote }, vt);
    // a's preview is being asked for when b's final (higher priority, so ahead of it) arrives.
    await vt.run(Promise.all([send('a', 'a-preview', 'normal'), sendAt(2, 'b', 'b-final')]));
    expect(starts.map((s) => s.label).sort()).toEqual(['a-preview', 'b-final']);
  });

  it("counts a chat's own windows with other instances sending into it: two budgets never overfill the chat", async () => {
    const vt = new VirtualTime();
    const chatWindows = new Map<string, LocalSharedWindow>();
    // What Redis is in a deployment: one count per chat, seen by both budgets, answering after a round trip.
    const sharedChats = (key: string, windows: readonly RateWindow[]): SharedWindow => {
      let w = chatWindows.get(key);
      if (!w) chatWindows.set(key, (w = new LocalSharedWindow(windows, vt.now)));
      const counted = w;
      return { acquire: (priority) => vt.sleep(2).then(() => counted.acquire(priority)) };
    };
    const a = setup({ sharedChats }, vt);
    const b = setup({ sharedChats }, vt);
    const at: number[] = [];
    const sendFrom = (x: typeof a, label: string) => x.budget.run('chat', async () => void at.push(vt.now()), { priority: 'high' }).then(() => label);
    // One chat's consecutive turns, answered by whichever instance got them: each budget alone would send at once.
    const sent = await vt.run(Promise.all([sendFrom(a, 'a1'), sendFrom(b, 'b1'), sendFrom(a, 'a2'), sendFrom(b, 'b2')]));
    expect(sent).toEqual(['a1', 'b1', 'a2', 'b2']);
    expect(at).toHaveLength(4);
    expect(busiestWindow(at, perSecond.windowMs)).toBe(1);
    expect(Math.max(...at)).toBeLessThan(3 * perSecond.windowMs + 100); // waited its turn, no longer
    expect(a.budget.stats().rateLimited + b.budget.stats().rateLimited).toBe(0);
  });

  it('drops a task given up on while another instance held its chat, instead of sending it later', async () => {
    const vt = new VirtualTime();
    const chat = new LocalSharedWindow([perSecond], vt.now);
    const other = chat.acquire('high'); // another instance is sending into the chat now
    const sharedChats = (): SharedWindow => ({ acquire: (priority) => vt.sleep(2).then(() => chat.acquire(priority)) });
    const { budget, starts } = setup({ sharedChats }, vt);
    const ac = new AbortController();
    const preview = budget.run('c', async () => void starts.push({ label: 'stale preview', at: vt.now(), waited: 0, priority: 'normal' }), { priority: 'normal', signal: ac.signal });
    // The reply moves on while the preview is asking for the chat's slot (already out of line).
    const abort = vt.sleep(1).then(() => ac.abort());
    const freed = vt.sleep(500).then(() => void (typeof other !== 'number' && other.commit()));
    expect(await vt.run(Promise.all([preview, abort, freed]))).toEqual([SKIPPED, undefined, undefined]);
    await vt.run(vt.sleep(3000));
    expect(starts).toEqual([]);
    expect(budget.stats()).toMatchObject({ sent: 0, skipped: 1 });
  });

  it('waits and asks again when a chat window breaks its contract, without losing the task', async () => {
    const vt = new VirtualTime();
    let fail = true;
    const sharedChats = (): SharedWindow => ({
      acquire: async () => {
        if (fail) {
          fail = false;
          throw new Error('unreachable');
        }
        return { commit: () => undefined, release: () => undefined };
      },
    });
    const { starts, send } = setup({ sharedChats }, vt);
    await vt.run(send('c', 'c1'));
    expect(starts.map((s) => s.label)).toEqual(['c1']);
    expect(starts[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('refuses both a shared window and global windows, and windows that cannot hold a send', () => {
    const shared = new LocalSharedWindow([]);
    expect(() => new OutboundBudget({ windowsFor: () => [], shared, global: [botWide], retryAfterMs: () => undefined })).toThrow('either `global` windows or a `shared` window');
    expect(() => new LocalSharedWindow([{ max: 0, windowMs: 1000 }])).toThrow('max >= 1');
  });
});
