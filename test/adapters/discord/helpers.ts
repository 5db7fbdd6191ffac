/**
 * The Discord adapter under test: real discord.js against the fake Discord, the real engine
 * against the fake OpenAI, and (optionally) the real proactive scheduler — wired like the
 * runtime, with Discord's limits scaled down so a test runs in milliseconds, not seconds.
 */
import type { Network } from '../../../src/core/network.js';
import { createDiscordAdapter, type DiscordAdapter, type DiscordConfig, type DiscordTuning } from '../../../adapters/discord/index.js';
import { ProactiveScheduler, DeliveryRouter } from '../../../src/scheduler/index.js';
import type { InboundMessage, ReplyEvent } from '../../../src/core/types.js';
import type { MessageHandler, SendMarks } from '../../../src/core/adapter.js';
import { StoreUnavailableError } from '../../../src/core/errors.js';
import type { SharedWindowFactory } from '../../../src/core/outbound-window.js';
import { commandMenu, type EngineConfig } from '../../../src/engine/index.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from '../../fakes/discord.js';
import { startHarness, type Harness } from '../../helpers/harness.js';
import { recentChatsOf } from '../../../src/platforms.js';

type RecentChats = ReturnType<typeof recentChatsOf>;

export const alice = { id: '211111111111111111', username: 'alice' };
export const bob = { id: '311111111111111111', username: 'bob' };
/** An operator (ADMIN_USER_IDS) in the test engine config. */
export const operator = { id: '411111111111111111', username: 'olga' };

/** Discord's windows divided by 10 (fake and adapter alike). */
export const SCALED_LIMITS: FakeDiscordOptions['limits'] = {
  messagePost: { limit: 5, windowMs: 500 },
  messageEdit: { limit: 5, windowMs: 500 },
  typing: { limit: 5, windowMs: 500 },
  webhook: { limit: 5, windowMs: 200 },
};

export const SCALED_TUNING: Partial<DiscordTuning> = {
  editIntervalMs: 100,
  firstSendDelayMs: 100,
  typingIntervalMs: 800,
  typingWindow: { max: 5, windowMs: 500 },
  channelWindow: { max: 5, windowMs: 500, reserve: 1 },
  interactionWindow: { max: 5, windowMs: 200, reserve: 1 },
  deferAfterMs: 250,
  stopTimeoutMs: 3000,
};

/** Shared windows (bot-wide and per chat) that limit nothing: only for tests that send a few messages. */
const unlimitedWindow: SharedWindowFactory = () => ({ acquire: () => ({ commit: () => undefined, release: () => undefined }) });

/** Pass the engine's events through, noting when the answer was complete. */
async function* tap(eventId: string, events: AsyncIterable<ReplyEvent>, doneAt: Map<string, number>): AsyncGenerator<ReplyEvent> {
  for await (const e of events) {
    if (e.type === 'done') doneAt.set(eventId, performance.now());
    yield e;
  }
}

export interface Setup {
  h: Harness;
  fake: FakeDiscord;
  adapter: DiscordAdapter;
  scheduler: ProactiveScheduler;
  /** Every InboundMessage the adapter handed to the engine, in order. */
  handled: InboundMessage[];
  /** performance.now() when the engine finished each answer (its `done` event), by event id. */
  modelDoneAt: Map<string, number>;
  /** Bot messages in a channel (current text after edits). */
  texts(channelId: string): string[];
  /**
   * Everything sent so far has been seen and answered: discord.js has read every event (the fake
   * confirms it with a heartbeat) and the adapter has finished all its work. Nothing more will
   * happen until the test acts, so absences can be asserted.
   */
  idle(): Promise<void>;
  /**
   * Another adapter like `adapter`, on the same engine and fake (the next process, say); not
   * started, not closed by `close`. `handler` stands in for the engine (a process that dies
   * before its messages are on disk, say).
   */
  newAdapter(o?: { handler?: MessageHandler; tuning?: Partial<DiscordTuning>; now?: () => number }): DiscordAdapter;
  close(): Promise<void>;
}

/**
 * The heartbeat interval the tests' fake announces: an hour, not Discord's 41.25 s. discord.js
 * sends its first heartbeat after a random part of the interval and takes the connection for a
 * zombie (closing it with 4200 to resume) when that one finds a heartbeat unacknowledged, which
 * one the fake asked for while waiting for the client to catch up (`idle()`) can be. That race
 * can add a second 4200 close to a test's exact gateway log (seen once, on a loaded machine).
 */
export const QUIET_HEARTBEAT_MS = 3_600_000;

export async function startDiscord(o: {
  fake?: FakeDiscordOptions;
  tuning?: Partial<DiscordTuning>;
  /** Adapter config over the defaults; a function gets the fake (to name its guild). */
  config?: Partial<DiscordConfig> | ((fake: FakeDiscord) => Partial<DiscordConfig>);
  engine?: Partial<EngineConfig>;
  /** Model calls in flight at once (the engine's semaphore); default 8. */
  concurrency?: number;
  start?: boolean;
  /**
   * Read back, at start, what was sent while no adapter listened (the runtime's `recentChats`, or
   * a wrapper of it), and replay the previous gateway session (its notes in the store).
   */
  catchUp?: boolean | ((recentChats: RecentChats) => RecentChats);
  /**
   * As in a cluster whose instances run the same shards (a bot-wide window shared with other
   * instances, no DISCORD_SHARDS): each adapter notes its own gateway session.
   */
  sharedShards?: boolean;
  /** While true, the adapter's reads and notes find the database unreachable (`StoreUnavailableError`). */
  storeDown?: () => boolean;
  /** How the adapters reach Discord (an outbound proxy's network); default directly. */
  network?: Network;
  /** The store's send marks, as the runtime passes them (with `catchUp` they are passed anyway). */
  marks?: boolean;
} = {}): Promise<Setup> {
  const handled: InboundMessage[] = [];
  const modelDoneAt = new Map<string, number>();
  const h = await startHarness({
    config: { adminUserIds: [`discord:${operator.id}`], ...o.engine },
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
  });
  const delivery = new DeliveryRouter();
  const scheduler = ProactiveScheduler.attach({ engine: h.engine, store: h.store, clock: h.clock, log: h.log, target: delivery }, {
    defaults: { minIdleMinutes: 60, minGapMinutes: 120, dailyCap: 3, maxUnanswered: 5 },
  });
  const fake = await startFakeDiscord({ retryAfterHeader: 'exact', heartbeatIntervalMs: QUIET_HEARTBEAT_MS, ...o.fake, limits: { ...SCALED_LIMITS, ...o.fake?.limits } });
  const unreachable = () => new StoreUnavailableError('The database has been unreachable for 30 s (a test outage); try again shortly');
  const unlessDown = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => (o.storeDown ? (...a: A) => (o.storeDown!() ? Promise.reject(unreachable()) : f(...a)) : f);
  const marksUnlessDown = (m: SendMarks): SendMarks => ({
    put: unlessDown(m.put.bind(m)),
    get: unlessDown(m.get.bind(m)),
    list: unlessDown(m.list.bind(m)),
    forget: unlessDown(m.forget.bind(m)),
  });
  const newAdapter = (over: { handler?: MessageHandler; tuning?: Partial<DiscordTuning>; now?: () => number } = {}) =>
    createDiscordAdapter(
      { token: fake.token, apiUrl: fake.restApi, guildIds: [], characterWebhooks: false, ...(typeof o.config === 'function' ? o.config(fake) : o.config) },
      {
        handler: over.handler ?? { handle: (m) => (handled.push(m), tap(m.eventId, h.engine.handle(m), modelDoneAt)) },
        log: h.log,
        commands: commandMenu(h.engine.commands),
        listCharacters: async () => (await h.store.characters.listShared()).map((c) => c.name),
        characterAvatar: async (name) => (name === 'Aria' ? 'http://img.test/aria.png' : undefined),
        tuning: { ...SCALED_TUNING, ...o.tuning, ...over.tuning },
        ...(over.now ? { now: over.now } : {}),
        ...(o.network ? { network: o.network } : {}),
        ...(o.sharedShards ? { sharedWindow: unlimitedWindow } : {}),
        ...(o.marks ? { sendMarks: h.store.sendMarks } : {}),
        ...(o.catchUp
          ? {
              recentChats: unlessDown(o.catchUp === true ? recentChatsOf(h.store, h.log) : o.catchUp(recentChatsOf(h.store, h.log))),
              sendMarks: o.storeDown ? marksUnlessDown(h.store.sendMarks) : h.store.sendMarks,
            }
          : {}),
      },
    );
  const adapter = newAdapter();
  delivery.addAdapters([adapter]);
  if (o.start !== false) await adapter.start();
  let closed = false;
  return {
    h,
    fake,
    adapter,
    scheduler,
    handled,
    modelDoneAt,
    texts: (channelId) => fake.channelMessages(channelId).map((m) => m.content),
    newAdapter,
    idle: async () => {
      await fake.idle();
      await adapter.settled();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await adapter.stop();
      await fake.close();
      await h.close();
    },
  };
}

/**
 * The bot answers a DM and stops; then, while no process listens, a first message to it in a
 * server channel it never talked in, and one in the DM after it: the newest message handled
 * moves past the channel's once the DM's is read back.
 */
export async function firstMessageMissed(s: Setup): Promise<{ dm: string; ch: string }> {
  const { fake, texts } = s;
  const dm = fake.userMessage({ author: alice, content: 'hello' }).channel_id as string;
  await fake.waitFor(() => texts(dm).length === 1);
  await s.idle();
  await s.adapter.stop();
  const ch = fake.guild.channelId;
  fake.userMessage({ author: bob, channelId: ch, content: 'anyone?', mentionsBot: true });
  fake.userMessage({ author: alice, content: 'are you there?' });
  return { dm, ch };
}
