import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { Clock } from './core/clock.js';
import { systemClock } from './core/clock.js';
import type { PlatformAdapter } from './core/adapter.js';
import type { InboundMessage, ReplyEvent } from './core/types.js';
import { createLogger, type Logger } from './log.js';
import { openStore, type Store } from './store/index.js';
import { createModel, type ModelClient } from './llm/index.js';
import { createEngine, engineConfigFrom, type Engine } from './engine/index.js';
import { buildApp } from './http/app.js';
import { loadPresets } from './presets.js';
import { DeliveryRouter, ProactiveScheduler, proactiveCommand, startCron, type ProactiveTarget } from './scheduler/index.js';
import { WebhookSender } from './services/webhooks.js';
import { ApiProactiveTarget } from './services/proactive-api.js';
import { storedPlatformStatus } from './services/platform-status.js';

/** Where shipped presets live, relative to this file in both `src/` (tsx) and `dist/src/` (built). */
export function defaultPresetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join('dist', 'src')}`) ? join(here, '..', '..', 'data', 'presets') : join(here, '..', 'data', 'presets');
}

export interface Runtime {
  config: Config;
  log: Logger;
  store: Store;
  model: ModelClient;
  engine: Engine;
  app: FastifyInstance;
  adapters: PlatformAdapter[];
  scheduler: ProactiveScheduler;
  webhooks: WebhookSender;
  /** The address the HTTP server listens on, e.g. http://127.0.0.1:3000. */
  url: string;
  /** Stop input, let in-flight turns finish within the deadline, close the database. */
  shutdown(reason?: string): Promise<void>;
}

/** Parts a test (or an embedding program) may supply instead of the defaults. */
export interface RuntimeOverrides {
  log?: Logger;
  clock?: Clock;
  model?: ModelClient;
  presetDir?: string;
  /** Build platform adapters; main.ts passes the real ones for every configured platform. */
  /** Where proactive messages of API conversations go (updates feed + webhooks). */
  apiTarget?: ProactiveTarget;
  adapters?: (ctx: { config: Config; engine: Engine; log: Logger; store: Store }) => PlatformAdapter[];
}

/**
 * The composition root: config → store → model → engine → adapters → HTTP → scheduler.
 * `main.ts` calls this with the environment; end-to-end tests call it with fakes' addresses.
 */
export async function startRuntime(config: Config, overrides: RuntimeOverrides = {}): Promise<Runtime> {
  const log = overrides.log ?? createLogger({ level: config.logLevel, secrets: config.secrets });
  const clock = overrides.clock ?? systemClock;
  const store = await openStore(config.databasePath, clock);
  await loadPresets(store, overrides.presetDir ?? defaultPresetDir(), log);
  const model = overrides.model ?? createModel(config.model, log);
  let scheduler: ProactiveScheduler | undefined;
  const engine = createEngine(
    {
      store,
      model,
      clock,
      log,
      config: engineConfigFrom(config),
      modelConcurrency: config.model.concurrency,
      hooks: { afterMessage: (c, ch, m) => scheduler?.afterMessage(c, ch, m) ?? Promise.resolve() },
    },
    { commands: [proactiveCommand(() => scheduler)] },
  );
  const adapters = overrides.adapters?.({ config, engine, log, store }) ?? [];
  // Proactive messages: platform conversations through their adapter, API ones to the updates
  // feed and the key's webhook (an outbox drained by the webhook sender).
  const webhooks = new WebhookSender(store, clock, log.child({ component: 'webhooks' }), { ssrfAllowHosts: config.ssrfAllowHosts });
  const delivery = new DeliveryRouter(adapters, overrides.apiTarget ?? new ApiProactiveTarget(store, webhooks));
  scheduler = new ProactiveScheduler(engine, delivery, { defaults: config.proactive });
  const rawRoutes = adapters.flatMap((a) => a.routes?.() ?? []);
  const platformStatus = storedPlatformStatus(config, store, adapters.map((a) => a.platform));
  const app = await buildApp({ config, store, engine, log, rawRoutes, scheduler, platformStatus });
  await app.listen({ port: config.port, host: config.host });
  const addr = app.server.address();
  const url = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
  for (const a of adapters) {
    await a.start();
    log.info({ platform: a.platform }, 'adapter started');
  }
  webhooks.start();
  const recover = () => engine.recover((msg, events) => redeliver(adapters, msg, events));
  void recover().then(
    (n) => n && log.warn({ recovered: n }, 'answered messages a previous run accepted but did not finish'),
    (err: unknown) => log.error({ err }, 'recovering unfinished messages failed'),
  );
  const sched = scheduler;
  const proactive = startCron(config.proactive.cron, () => sched.tick(), log, 'proactive');
  // Processed-event ids only need to outlive the platforms' redelivery windows (Slack: ~5 min).
  const housekeeping = startCron('17 * * * *', async () => {
    await store.events.prune(clock.now() - 2 * 86_400_000);
    await recover(); // another process on this database may have died mid-turn
  }, log, 'housekeeping');
  log.info({ url, model: model.label, adapters: adapters.map((a) => a.platform), proactiveCron: config.proactive.cron }, 'charbridge is running');

  let closing: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown') =>
    (closing ??= (async () => {
      log.info({ reason }, 'shutting down: no new input, finishing in-flight turns');
      await proactive.stop();
      await housekeeping.stop();
      await webhooks.stop();
      engine.stopAccepting();
      await Promise.allSettled(adapters.map((a) => a.stop()));
      const drained = await engine.drain(config.shutdownTimeoutMs);
      if (!drained) log.warn({ inFlight: engine.inFlightCount }, 'shutdown deadline reached with turns still running');
      await app.close();
      await store.close();
      log.info('stopped');
    })());

  return { config, log, store, model, engine, app, adapters, scheduler: sched, webhooks, url, shutdown };
}

/** Send what a recovered turn produced through its platform's adapter, as a plain message. */
async function redeliver(adapters: PlatformAdapter[], msg: InboundMessage, events: ReplyEvent[]): Promise<void> {
  const adapter = adapters.find((a) => a.platform === msg.platform);
  if (!adapter?.deliver) throw new Error(`no running ${msg.platform} adapter to deliver a recovered reply`);
  const start = events.find((e) => e.type === 'start');
  const texts = events.flatMap((e) => (e.type === 'done' ? [e.message.content] : e.type === 'notice' || e.type === 'error' ? [e.text] : []));
  if (!texts.length) return;
  const key = { platform: msg.platform, chatId: msg.chatId, ...(msg.threadId !== undefined ? { threadId: msg.threadId } : {}) };
  await adapter.deliver({ key, text: texts.join('\n\n'), characterName: start?.type === 'start' ? start.characterName : '' });
}
