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
import { DM, SCALED_LIMITS, SCALED_TUNING, waitFor } from './world.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => undefined);
});

async function startProcess(fake: FakeTelegram, clock: ManualClock, dbPath: string, o: { frozen?: boolean } = {}) {
  const h = await startHarness({ clock, dbPath, maxRetries: 0 });
  const tuning: Partial<TelegramTuning> = { ...SCALED_TUNING, ...(o.frozen ? { stopTimeoutMs: 10 } : {}) };
  const adapter: TelegramAdapter = createTelegramAdapter(
    { token: fake.token, apiRoot: fake.apiRoot },
    // A frozen process never wakes from a wait: whatever it has not sent yet, it never sends.
    { handler: h.engine, log: h.log, commands: commandMenu(h.engine.commands), tuning, ...(o.frozen ? { sleep: () => new Promise<void>(() => {}) } : {}) },
  );
  await adapter.start();
  await waitFor(() => fake.pendingPolls > 0);
  return { h, adapter };
}

describe('a reply stored but not yet sent when the process died', () => {
  it('is sent by the next process exactly once, without a second model call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-tg-undelivered-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, 'db.sqlite');
    const clock = new ManualClock();
    const fake = await startFakeTelegram({ limits: SCALED_LIMITS });
    cleanup.push(() => fake.close());

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
    const dir = mkdtempSync(join(tmpdir(), 'cb-tg-delivered-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const clock = new ManualClock();
    const fake = await startFakeTelegram({ limits: SCALED_LIMITS });
    cleanup.push(() => fake.close());
    const a = await startProcess(fake, clock, join(dir, 'db.sqlite'));
    cleanup.push(() => a.h.close(), () => a.adapter.stop());
    fake.userMessage({ ...DM, text: 'hello' });
    await waitFor(() => fake.botMessages(DM.chat.id).length === 1, 10_000, 'the reply');
    await a.adapter.settled();
    await expect.poll(() => a.h.store.events.backlog()).toBe(0);
  });
});

async function waitForConversation(h: Harness): Promise<string> {
  let id: string | undefined;
  await expect.poll(async () => (id = (await h.store.conversations.getByScope(`telegram:${DM.chat.id}`))?.id)).toBeDefined();
  return id!;
}
