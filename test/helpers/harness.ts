import { randomUUID } from 'node:crypto';
import { ManualClock, type Clock } from '../../src/core/clock.js';
import type { InboundMessage } from '../../src/core/types.js';
import type { ChatOrder } from '../../src/engine/limits.js';
import { createLogger, type Logger } from '../../src/log.js';
import { openStore, type Store } from '../../src/store/index.js';
import { OpenAIModel } from '../../src/llm/index.js';
import { createEngine, MemoryRateLimits, type AnsweredNotes, type Engine, type EngineConfig, type EngineOptions, type RateLimits } from '../../src/engine/index.js';
import { loadPresets } from '../../src/presets.js';
import { defaultPresetDir } from '../../src/runtime.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';

/** A logger that writes nowhere (set TEST_LOG=debug to see the engine talk). */
export function testLogger(): Logger {
  return createLogger({ level: process.env.TEST_LOG ?? 'silent' });
}

export const testEngineConfig = (over: Partial<EngineConfig> = {}): EngineConfig => ({
  adminUserIds: ['telegram:999'],
  defaultCharacter: 'aria',
  userPerMin: 1000,
  groupPerMin: 1000,
  apiKeyPerMin: 1000,
  contextTokens: 8000,
  maxTokens: 512,
  fallbackModels: [],
  eventLeaseMs: 120_000,
  instanceId: `test-${randomUUID()}`,
  deadAfterMs: 10_000,
  ...over,
});

export interface Harness {
  store: Store;
  fake: FakeOpenAI;
  model: OpenAIModel;
  engine: Engine;
  /** The engine's rate limits, for services that must share them. */
  limits: RateLimits;
  clock: Clock;
  log: Logger;
  /** The engine's configuration (its instance id, its thresholds). */
  engineConfig: EngineConfig;
  close(): Promise<void>;
}

export interface HarnessOptions {
  config?: Partial<EngineConfig>;
  clock?: Clock;
  limits?: RateLimits;
  /** Where answered messages are also recorded (Redis, shared by instances). */
  answered?: AnsweredNotes;
  /** The chat's line shared by instances (Redis); none by default, as one process has. */
  chatOrder?: ChatOrder;
  engine?: EngineOptions;
  maxRetries?: number;
  concurrency?: number;
  /** Any URL `openStore` takes: a SQLite path or a `postgres://` URL (e.g. from `pgDatabase()`). */
  databaseUrl?: string;
  /** A SQLite file path; the same as `databaseUrl`, kept for existing tests. */
  dbPath?: string;
}

/**
 * The real engine over a store with the shipped presets, talking through the real openai SDK to
 * the fake OpenAI server on loopback. The store is a private in-memory SQLite database unless
 * `databaseUrl` says otherwise; with CHARBRIDGE_TEST_STORE=postgres every harness without one
 * gets a private PostgreSQL database instead (dropped on close), to run engine tests on PostgreSQL.
 */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const clock = opts.clock ?? new ManualClock();
  const log = testLogger();
  const { url, drop } = await testDatabase(opts.databaseUrl ?? opts.dbPath);
  const store = await openStore(url, clock);
  await loadPresets(store, defaultPresetDir());
  // Registered once, on the harness's clock: it counts as alive until the test moves time past
  // `deadAfterMs` (a crashed process, as far as the others can tell).
  const config = testEngineConfig(opts.config);
  await store.instances.register(config.instanceId, clock.now());
  const fake = await startFakeOpenAI();
  const limits = opts.limits ?? new MemoryRateLimits();
  const model = new OpenAIModel({ apiKey: fake.apiKey, baseURL: fake.baseURL, model: 'fake-model', timeoutMs: 5000, maxRetries: opts.maxRetries ?? 2 }, clock);
  const engine = createEngine(
    { store, model, clock, log, config, limits, modelConcurrency: opts.concurrency ?? 8, ...(opts.answered ? { answered: opts.answered } : {}), ...(opts.chatOrder ? { chatOrder: opts.chatOrder } : {}) },
    opts.engine,
  );
  return {
    store,
    fake,
    model,
    engine,
    limits,
    clock,
    log,
    engineConfig: config,
    close: async () => {
      await engine.drain(5000);
      await fake.close();
      await store.close();
      await drop?.();
    },
  };
}

/**
 * The database a test runs on: `url` when given; else a private in-memory SQLite database, or with
 * CHARBRIDGE_TEST_STORE=postgres a private PostgreSQL database that `drop` removes.
 */
export async function testDatabase(url?: string): Promise<{ url: string; drop?: () => Promise<void> }> {
  if (url !== undefined) return { url };
  if (process.env.CHARBRIDGE_TEST_STORE !== 'postgres') return { url: ':memory:' };
  // Loaded only here: services.ts needs the vitest runner, which benchmarks do not have.
  const { pgDatabase } = await import('./services.js');
  return pgDatabase();
}

let eventSeq = 0;

/** A platform message with sensible defaults: a Telegram DM from user 1. */
export function inbound(over: Partial<InboundMessage> = {}): InboundMessage {
  eventSeq++;
  return {
    platform: 'telegram',
    eventId: `ev-${eventSeq}-${Math.random().toString(36).slice(2)}`,
    chatId: '1',
    chatType: 'dm',
    userId: '1',
    userName: 'Sam',
    messageId: String(eventSeq),
    text: 'hello',
    imageUrls: [],
    mentioned: false,
    repliedToBot: false,
    senderIsAdmin: false,
    ...over,
  };
}

/** Send a message through the engine and return what came back, flattened for assertions. */
export async function say(engine: Engine, msg: InboundMessage): Promise<{ reply?: string; notices: string[]; error?: string; events: string[] }> {
  return collect(engine.handle.bind(engine), msg);
}

async function collect(handle: Engine['handle'], msg: InboundMessage) {
  const out: { reply?: string; notices: string[]; error?: string; events: string[] } = { notices: [], events: [] };
  for await (const e of handle(msg)) {
    out.events.push(e.type);
    if (e.type === 'done') out.reply = e.message.content;
    if (e.type === 'notice') out.notices.push(e.text);
    if (e.type === 'error') out.error = e.text;
  }
  return out;
}

/** The text of every user/assistant message the model saw in request `i`. */
export function seen(fake: FakeOpenAI, i = fake.requests.length - 1): string[] {
  const req = fake.requests[i];
  if (!req) return [];
  return (req.body.messages as Array<{ role: string; content: unknown }>).map((m) =>
    `${m.role}: ${typeof m.content === 'string' ? m.content : JSON.stringify(m.content)}`,
  );
}
