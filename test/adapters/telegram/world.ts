/**
 * A whole Telegram world for adapter tests: the fake Bot API server, the real engine over SQLite
 * talking to the fake OpenAI server (test/helpers/harness.ts), and the real adapter on real
 * telegraf, long polling the fake. Time is scaled down 20× on both sides — the adapter's budget
 * and the fake's flood limits — so limits are exercised without waiting real seconds.
 */
import type { TelegramAdapter, TelegramTuning } from '../../../adapters/telegram/index.js';
import { createTelegramAdapter } from '../../../adapters/telegram/index.js';
import { commandMenu } from '../../../src/engine/index.js';
import type { InboundMessage } from '../../../src/core/types.js';
import { openStore } from '../../../src/store/index.js';
import { proactiveCommand } from '../../../src/scheduler/index.js';
import { startHarness, type Harness } from '../../helpers/harness.js';
import { startFakeTelegram, type FakeTelegram, type FakeTelegramOptions, type FloodLimits, type UserMessageInput } from '../../fakes/telegram.js';

/** Telegram's limits and the adapter's timings at 1/20 scale (the fake's global window is fixed at 1 s). */
export const SCALED_TUNING: Partial<TelegramTuning> = {
  editIntervalMs: 50,
  firstSendDelayMs: 50,
  typingIntervalMs: 200,
  chatWindow: { max: 1, windowMs: 50 },
  groupWindow: { max: 20, windowMs: 3000, reserve: 4 },
  globalWindow: { max: 30, windowMs: 50, reserve: 5 },
  stopTimeoutMs: 3000,
};
export const SCALED_LIMITS: Partial<FloodLimits> = { chatMinIntervalMs: 50, chatBurst: 1, groupPerWindow: 20, groupWindowMs: 3000, globalPerSecond: 600 };

export interface World {
  fake: FakeTelegram;
  h: Harness;
  adapter: TelegramAdapter;
  /** Queue a user message (defaults: a DM from user 42) and return the update. */
  say(text: string, o?: Partial<UserMessageInput>): any;
  /** Texts of the bot's messages in a chat (default the DM), after edits. */
  texts(chatId?: number, threadId?: number): string[];
  close(): Promise<void>;
}

export const DM: Pick<UserMessageInput, 'chat' | 'from'> = { chat: { id: 42, type: 'private' }, from: { id: 42, first_name: 'Ann' } };
export const GROUP: UserMessageInput['chat'] = { id: -100123, type: 'supergroup', title: 'Crew' };
export const FORUM: UserMessageInput['chat'] = { id: -100777, type: 'supergroup', title: 'Forum', is_forum: true };

export async function startWorld(
  opts: { fake?: FakeTelegramOptions; tuning?: Partial<TelegramTuning>; chunkDelayMs?: number; concurrency?: number; dbPath?: string } = {},
): Promise<World> {
  const fake = await startFakeTelegram({ limits: SCALED_LIMITS, ...opts.fake });
  // The proactive command is registered as the runtime registers it, so the menu is the real one.
  const h = await startHarness({
    maxRetries: 0,
    engine: { commands: [proactiveCommand(undefined)] },
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.dbPath ? { dbPath: opts.dbPath } : {}),
  });
  if (opts.chunkDelayMs) h.fake.setChunkDelay(opts.chunkDelayMs);
  const adapter = createTelegramAdapter(
    { token: fake.token, apiRoot: fake.apiRoot },
    { handler: h.engine, log: h.log, commands: commandMenu(h.engine.commands), sendMarks: h.store.sendMarks, tuning: { ...SCALED_TUNING, ...opts.tuning } },
  );
  await adapter.start();
  await waitFor(() => fake.pendingPolls > 0); // launch() returns before the first getUpdates is parked
  return {
    fake,
    h,
    adapter,
    say: (text, o = {}) => fake.userMessage({ ...DM, text, ...o }),
    texts: (chatId = DM.chat.id, threadId) => fake.botMessages(chatId, threadId).map((m) => m.text),
    close: async () => {
      await adapter.stop();
      await h.close();
      await fake.close();
    },
  };
}

/** Poll until `cond` holds (conditions, not durations: no test asserts on timing). */
export async function waitFor(cond: () => boolean, ms = 10_000, what: string | (() => string) = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`waitFor: timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Wait until the chat shows exactly these bot texts (the final state of the replies). */
export async function expectTexts(w: World, expected: string[], chatId?: number, threadId?: number): Promise<void> {
  await waitFor(() => JSON.stringify(w.texts(chatId, threadId)) === JSON.stringify(expected), 10_000, () => `texts ${JSON.stringify(expected)} (have ${JSON.stringify(w.texts(chatId, threadId))})`);
}

/** Successful calls of a Bot API method. */
export function okCalls(fake: FakeTelegram, method: string, chatId?: number) {
  return fake.calls.filter((c) => c.method === method && c.ok && (chatId === undefined || Number(c.params.chat_id) === chatId));
}

/**
 * A run on the SQLite file `dbPath` that accepted `text` from the DM chat (42), claimed it with its
 * payload, and crashed before answering it: its row in the instances table still looks alive.
 */
export async function crashedRunOwing(dbPath: string, text: string, deadAfterMs: number): Promise<void> {
  const crashed = await openStore(dbPath);
  const now = Date.now();
  await crashed.instances.register('crashed-run', now);
  const accepted: InboundMessage = {
    platform: 'telegram', eventId: '900001', chatId: '42', chatType: 'dm', userId: '42', userName: 'Ann', messageId: '7',
    text, imageUrls: [], mentioned: false, repliedToBot: false, senderIsAdmin: false,
  };
  const claim = { platform: 'telegram', eventId: accepted.eventId, owner: 'crashed-run', now, deadAfterMs, leaseMs: 120_000, payload: JSON.stringify(accepted) };
  if (!(await crashed.events.claim(claim))) throw new Error('the crashed run could not claim its message');
  await crashed.close();
}
