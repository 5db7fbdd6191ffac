/**
 * A single instance keeps each chat's sends in its database (the call tally, `bot:chat:<key>`),
 * for the windows that outlast a restart: an outbound budget made after a restart against the
 * same database holds a chat's sends back exactly until the run before's have left the window.
 * On SQLite and PostgreSQL, with the store's clock moved by hand (a budget's wait moves it, so
 * one chat waits at a time).
 */
import { expect, it, vi } from 'vitest';
import { OutboundBudget, type RateWindow } from '../../adapters/shared/budget.js';
import { rememberedChannels } from '../../adapters/shared/shared-window.js';
import { trackedChatTallies } from '../helpers/tracked-tallies.js';
import { describeStores } from '../store/backends.js';

const slackChannel: RateWindow = { max: 3, windowMs: 3000, reserve: 1 };
const telegramChat: RateWindow = { max: 1, windowMs: 1000 };
const telegramGroup: RateWindow = { max: 20, windowMs: 60_000, reserve: 4 };

describeStores('chat windows kept in the database', (ctx) => {
  /** Every tally write the budgets started, so a test can wait for them instead of for time. */
  const writes: Array<Promise<unknown>> = [];
  /** One process's tallies (a restart makes new ones on the same database). */
  const tallies = () => trackedChatTallies(ctx.store.callTally, () => ctx.clock.now(), writes);
  /** One process's budget for `bot`; waiting moves the store's clock. */
  const budget = (bot: string, windowsFor: (key: string) => RateWindow[]) =>
    new OutboundBudget({
      windowsFor,
      rememberedChats: rememberedChannels(tallies(), bot),
      retryAfterMs: () => undefined,
      now: () => ctx.clock.now(),
      sleep: async (ms) => ctx.clock.advance(ms),
    });
  const sendAt = (b: OutboundBudget, key: string) => b.run(key, async () => ctx.clock.now());
  const settled = async () => {
    await Promise.all(writes.splice(0));
  };

  it('holds a Slack channel after a restart exactly until the sends before it leave its window', async () => {
    const t0 = ctx.clock.now();
    const before = budget('slack:app', () => [slackChannel]);
    expect(await sendAt(before, 'C1')).toBe(t0);
    ctx.clock.advance(500);
    expect(await sendAt(before, 'C1')).toBe(t0 + 500);
    ctx.clock.advance(500);
    expect(await sendAt(before, 'C1')).toBe(t0 + 1000);
    await settled();

    // The process dies; the next one starts 0.5 s later on the same database.
    ctx.clock.advance(500);
    const after = budget('slack:app', () => [slackChannel]);
    expect(await sendAt(after, 'C2')).toBe(t0 + 1500); // never sent into: at once
    expect(await Promise.all([sendAt(after, 'C1'), sendAt(after, 'C1')])).toEqual([t0 + 3000, t0 + 3500]);
    await settled();
    // What left the window goes on a process's first write for the chat, then once per window.
    expect(await ctx.store.callTally.callsAfter('slack:app:chat:C1', 0)).toEqual([t0 + 500, t0 + 1000, t0 + 3000, t0 + 3500]);
  });

  it('keeps a Telegram group’s minute past a restart, and writes nothing for a private chat’s second', async () => {
    const t0 = ctx.clock.now();
    const windows = (key: string) => (key.startsWith('-') ? [telegramChat, telegramGroup] : [telegramChat]);
    const before = budget('telegram:1', windows);
    // 20 in the group, a second apart: its minute is full.
    const group = await Promise.all(Array.from({ length: 20 }, () => sendAt(before, '-100')));
    expect(group).toEqual(Array.from({ length: 20 }, (_, i) => t0 + i * 1000));
    expect(await sendAt(before, '42')).toBe(t0 + 19_000);
    await settled();

    ctx.clock.advance(1500);
    const read = vi.spyOn(ctx.store.callTally, 'callsAfter');
    const after = budget('telegram:1', windows);
    // The private chat goes at once and reads nothing; the group waits for its first send to leave the minute.
    expect(await sendAt(after, '42')).toBe(t0 + 20_500);
    expect(read).not.toHaveBeenCalled();
    expect(await sendAt(after, '-100')).toBe(t0 + 60_000);
    expect(await sendAt(after, '-100')).toBe(t0 + 61_000);
    expect(read).toHaveBeenCalledTimes(1); // one read per chat and process
    read.mockRestore();
    await settled();
    expect(await ctx.store.callTally.callsAfter('telegram:1:chat:42', 0)).toEqual([]);
    // The send at t0 had left the minute: dropped on this run's first write for the group.
    const kept = await ctx.store.callTally.callsAfter('telegram:1:chat:-100', 0);
    expect([kept[0], kept.length]).toEqual([t0 + 1000, 21]);
  });

  it('costs a chat never sent into one query, on its first use, and none after', async () => {
    const read = vi.spyOn(ctx.store.callTally, 'callsAfter');
    const b = budget('slack:app', () => [slackChannel]);
    const t0 = ctx.clock.now();
    expect(await Promise.all([sendAt(b, 'C7'), sendAt(b, 'C7'), sendAt(b, 'C7'), sendAt(b, 'C7')])).toEqual([t0, t0, t0, t0 + 3000]);
    expect(read).toHaveBeenCalledTimes(1);
    read.mockRestore();
    await settled();
  });
});
