/**
 * A reply is answered for good only once Telegram has it: a process that stored a reply and died
 * before sending it leaves the message to the next process, which sends the stored reply — once,
 * without asking the model again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTelegramAdapter, type TelegramAdapter, type TelegramTuning } from '../../../adapters/telegram/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { commandMenu } from '../../../src/engine/index.js';
import { redeliver } from '../../../src/runtime.js';
import { startFakeTelegram, type FakeTelegram } from '../../fakes/telegram.js';
import { startHarness, testEngineConfig, type Harness } from '../../helpers/harness.js';
import { DM, GROUP, SCALED_LIMITS, SCALED_TUNING, waitFor } from './world.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => undefined);
});

/** A database file, a clock and a fake Bot API for two processes in turn; removed after the test. */
async function freshPlace(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const fake = await startFakeTelegram({ limits: SCALED_LIMITS });
  cleanup.push(() => fake.close());
  return { dbPath: join(dir, 'db.sqlite'), clock: new ManualClock(), fake };
}

async function startProcess(fake: FakeTelegram, clock: ManualClock, dbPath: string, o: { frozen?: boolean; chunkDelayMs?: number } = {}) {
  const h = await startHarness({ clock, dbPath, maxRetries: 0 });
  if (o.chunkDelayMs) h.fake.setChunkDelay(o.chunkDelayMs);
  const tuning: Partial<TelegramTuning> = { ...SCALED_TUNING, ...(o.frozen ? { stopTimeoutMs: 10 } : {}) };
  const adapter: TelegramAdapter = createTelegramAdapter(
    { token: fake.token, apiRoot: fake.apiRoot },
    // A frozen process never wakes from a wait: whatever it has not sent yet, it never sends.
    {
      handler: h.engine, log: h.log, commands: commandMenu(h.engine.commands), tuning, sendMarks: h.store.sendMarks,
      ...(o.frozen ? { sleep: () => new Promise<void>(() => {}) } : {}),
    },
  );
  await adapter.start();
  await waitFor(() => fake.pendingPolls > 0);
  return { h, adapter };
}

describe('a reply stored but not yet sent when the process died', () => {
  it('is sent by the next process exactly once, without a second model call', async () => {
    const { dbPath, clock, fake } = await freshPlace('cb-tg-undelivered-');

    // Process A takes the message and stores the reply; Telegram's 429 makes it wait, and it dies waiting.
    const a = await startProcess(fake, clock, dbPath, { frozen: true });
    cleanup.push(() => a.h.store.close(), () => a.h.fake.close());
    fake.rateLimitNext(30);
    fake.userMessage({ ...DM, text: 'do not lose me' });
    await waitFor(() => a.h.fake.requests.length === 1, 10_000, 'the model call');
    const conv = await waitForConversation(a.h);
    await expect.poll(async () => (await a.h.store.messages.newest(conv, { limit: 5 })).map((m) => m.role)).toEqual(['assistant', 'user']);
    await fake.idle(); // the update is confirmed: Telegram will not send it again
    await a.adapter.stop();
    expect(fake.botMessages(DM.chat.id)).toEqual([]);

    // A stops heartbeating; process B starts on the same database and sweeps for A's unfinished work.
    clock.advance(testEngineConfig().deadAfterMs + 1);
    const b = await startProcess(fake, clock, dbPath);
    cleanup.push(() => b.h.close(), () => b.adapter.stop());
    const sweep = () => b.h.engine.recover((msg, events) => redeliver([b.adapter], msg, events));
    expect(await sweep()).toBe(1);
    await waitFor(() => fake.botMessages(DM.chat.id).length === 1, 10_000, 'the recovered reply');
    expect(fake.botMessages(DM.chat.id).map((m) => m.text)).toEqual(['Echo: do not lose me']);
    expect(b.h.fake.requests).toHaveLength(0);

    // Delivered now: the next sweep finds nothing, and nothing is sent twice.
    clock.advance(testEngineConfig().eventLeaseMs + 1);
    expect(await sweep()).toBe(0);
    await fake.idle();
    expect(fake.botMessages(DM.chat.id).map((m) => m.text)).toEqual(['Echo: do not lose me']);
    expect(await b.h.store.events.backlog()).toBe(0);
  });

  it('is marked answered once it was sent, so a sweep leaves it alone', async () => {
    const { dbPath, clock, fake } = await freshPlace('cb-tg-delivered-');
    const a = await startProcess(fake, clock, dbPath);
    cleanup.push(() => a.h.close(), () => a.adapter.stop());
    fake.userMessage({ ...DM, text: 'hello' });
    await waitFor(() => fake.botMessages(DM.chat.id).length === 1, 10_000, 'the reply');
    await a.adapter.settled();
    await expect.poll(() => a.h.store.events.backlog()).toBe(0);
  });
});

describe('a reply shown in part when its process died', () => {
  /**
   * Process A shows the reply's first message (the preview, or the first part of a long reply),
   * then waits for good (a 429 or its pacing, never woken from); its engine has stored the whole
   * reply. Process B recovers the message. What the chat shows, and B's calls, are returned.
   */
  async function diesAfterShowing(o: { chat: typeof DM; text: string; reply: string; chunkDelayMs: number }) {
    const { dbPath, clock, fake } = await freshPlace('cb-tg-partial-');
    const a = await startProcess(fake, clock, dbPath, { frozen: true, chunkDelayMs: o.chunkDelayMs });
    cleanup.push(() => a.h.store.close(), () => a.h.fake.close());
    a.h.fake.respondWith(o.reply);
    // Right after A's first message lands, A's further sends are refused for 30 s, a wait it never
    // wakes from (as it never wakes from its pacing between two sends).
    const off = fake.onCall((c) => {
      if (c.method === 'sendMessage' && c.ok) {
        for (let i = 0; i < 3; i++) fake.rateLimitNext(30);
        off();
      }
    });
    fake.userMessage({ ...o.chat, text: o.text });
    await waitFor(() => fake.botMessages(o.chat.chat.id).length > 0, 10_000, 'A’s first message')
    const conv = await waitForConversation(a.h, o.chat.chat.id);
    await expect.poll(async () => (await a.h.store.messages.newest(conv, { limit: 5 })).map((m) => m.role)).toEqual(['assistant', 'user']);
    await fake.idle();
    await a.adapter.stop();
    const shown = fake.botMessages(o.chat.chat.id).map((m) => m.text);
    expect(shown).toHaveLength(1);
    expect(shown[0]).not.toBe(o.reply);

    fake.resetFlood();
    clock.advance(testEngineConfig().deadAfterMs + 1);
    const b = await startProcess(fake, clock, dbPath);
    cleanup.push(() => b.h.close(), () => b.adapter.stop());
    const before = fake.calls.length;
    expect(await b.h.engine.recover((msg, events) => redeliver([b.adapter], msg, events))).toBe(1);
    await expect.poll(() => b.h.store.events.backlog()).toBe(0);
    await fake.idle();
    expect(b.h.fake.requests).toHaveLength(0);
    return { fake, calls: fake.calls.slice(before).filter((c) => c.method !== 'getUpdates') };
  }

  it('in a group: the preview the dead process left is edited into the reply, not shown beside it', async () => {
    const reply = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const { fake, calls } = await diesAfterShowing({ chat: { chat: GROUP, from: { id: 7, first_name: 'Bob' } }, text: '@charbridge_test_bot talk', reply, chunkDelayMs: 15 });
    expect(fake.botMessages(GROUP.id).map((m) => m.text)).toEqual([reply]);
    expect(calls.filter((c) => c.ok).map((c) => c.method)).toEqual(['editMessageText']);
  });

  it('a long reply: the parts the dead process sent are kept, only the rest is sent', async () => {
    const para = (n: number) => Array.from({ length: 250 }, (_, i) => `p${n}w${i}`).join(' ');
    const reply = [para(1), para(2), para(3)].join('\n\n');
    const { fake, calls } = await diesAfterShowing({ chat: DM, text: 'a long one please', reply, chunkDelayMs: 0 });
    const texts = fake.botMessages(DM.chat.id).map((m) => m.text);
    expect(texts.join('\n\n')).toBe(reply);
    expect(texts.length).toBeGreaterThan(1);
    const sends = calls.filter((c) => c.ok && c.method === 'sendMessage');
    expect(sends).toHaveLength(texts.length - 1);
  });
});

async function waitForConversation(h: Harness, chatId: number = DM.chat.id): Promise<string> {
  let id: string | undefined;
  await expect.poll(async () => (id = (await h.store.conversations.getByScope(`telegram:${chatId}`))?.id)).toBeDefined();
  return id!;
}
