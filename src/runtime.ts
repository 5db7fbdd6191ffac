import { randomUUID } from 'node:crypto';
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
import { createEngine, engineConfigFrom, MemoryRateLimits, type Engine } from './engine/index.js';
import { buildApp } from './http/app.js';
import { loadPresets } from './presets.js';
import { DeliveryRouter, ProactiveScheduler, startCron, type ProactiveTarget } from './scheduler/index.js';
import { createServices, platformStatus, type Services } from './services/index.js';
import { Liveness } from './services/liveness.js';
import { WebhookSender } from './services/webhooks.js';
import type { Resolve } from './services/safe-fetch.js';
import { ApiProactiveTarget } from './services/proactive-api.js';

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
  services: Services;
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
  /** How image and webhook hosts are resolved (tests pin names to loopback). */
  net?: { resolve?: Resolve };
}

/**
 * The composition root: config → store → model → engine → adapters → HTTP → scheduler.
 * `main.ts` calls this with the environment; end-to-end tests call it with fakes' addresses.
 */
export async function startRuntime(config: Config, overrides: RuntimeOverrides = {}): Promise<Runtime> {
  const log = overrides.log ?? createLogger({ level: config.runtime.logLevel, secrets: config.secrets });
  const clock = overrides.clock ?? systemClock;
  const store = await openStore(config.store.url, clock);
  await loadPresets(store, overrides.presetDir ?? defaultPresetDir(), log);
  const model = overrides.model ?? createModel(config.model, log);
  const limits = new MemoryRateLimits();
  // This process, as the owner of what it claims: live instances never take each other's work.
  const instanceId = randomUUID();
  const engine = createEngine({ store, model, clock, log, limits, config: engineConfigFrom(config, instanceId), modelConcurrency: config.model.concurrency });
  // Proactive messages: platform conversations through their adapter, API ones to the updates
  // feed and the key's webhook (an outbox drained by the webhook sender). The scheduler is
  // attached before the adapters exist, so their command menus include `/proactive`.
  const webhooks = new WebhookSender(store, clock, log.child({ component: 'webhooks' }), {
    ssrfAllowHosts: config.http.ssrfAllowHosts,
    timeoutMs: config.http.webhookTimeoutMs,
    concurrency: config.http.webhookConcurrency,
    ...overrides.net,
  });
  const delivery = new DeliveryRouter(overrides.apiTarget ?? new ApiProactiveTarget(store, webhooks));
  const scheduler = ProactiveScheduler.attach(
    { engine, store, clock, log, target: delivery },
    { defaults: config.proactive, owner: instanceId, deadAfterMs: config.runtime.instanceDeadAfterMs },
  );
  const adapters = overrides.adapters?.({ config, engine, log, store }) ?? [];
  delivery.addAdapters(adapters);
  const services = createServices({
    store,
    engine,
    log,
    clock,
    limits,
    apiKeyPerMin: config.limits.apiKeyPerMin,
    adminApiKey: config.http.adminApiKey,
    ssrfAllowHosts: config.http.ssrfAllowHosts,
    imageFetch: { allowHosts: config.http.ssrfAllowHosts, maxBytes: config.http.maxImageBytes, deadlineMs: config.http.imageFetchTimeoutMs, ...overrides.net },
    defaultCharacter: config.engine.defaultCharacter,
    models: config.model,
    platformStatus: platformStatus(config, store, adapters),
    consoleSessionMs: config.http.consoleSessionHours * 3_600_000,
  });
  const liveness = new Liveness(store, clock, log, {
    instanceId,
    heartbeatMs: config.runtime.heartbeatMs,
    recover: async () => (await engine.recover((msg, events) => redeliver(adapters, msg, events))) + (await services.chat.recover()),
  });
  await liveness.register();
  const rawRoutes = adapters.flatMap((a) => a.routes?.() ?? []);
  const app = await buildApp({ config, log, services, rawRoutes, scheduler });
  await app.listen({ port: config.http.port, host: config.http.host });
  const addr = app.server.address();
  const url = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
  for (const a of adapters) {
    await a.start();
    log.info({ platform: a.platform }, 'adapter started');
  }
  webhooks.start();
  liveness.start();
  const proactive = startCron(config.proactive.cron, () => scheduler.tick(), log, 'proactive');
  const housekeeping = startCron('17 * * * *', () => housekeep(store, clock.now()), log, 'housekeeping');
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
      const drained = await engine.drain(config.runtime.shutdownTimeoutMs);
      if (!drained) log.warn({ inFlight: engine.inFlightCount }, 'shutdown deadline reached with turns still running');
      await app.close();
      // Only a clean stop leaves the instance table; unfinished claims then wait for the next start.
      if (drained) await liveness.stop();
      await store.close();
      log.info('stopped');
    })());

  return { config, log, store, model, engine, app, adapters, scheduler, services, webhooks, url, shutdown };
}

/**
 * What only needs keeping for a while: processed-event ids outlive the platforms' redelivery
 * windows (Slack: ~5 minutes) by far, and instances dead for a day tell nothing any more.
 */
async function housekeep(store: Store, now: number): Promise<void> {
  await store.events.prune(now - 2 * 86_400_000);
  await store.instances.prune(now - 86_400_000);
}

/** Send what a recovered turn produced through its platform's adapter, as a plain message. */
async function redeliver(adapters: PlatformAdapter[], msg: InboundMessage, events: ReplyEvent[]): Promise<void> {
  const adapter = adapters.find((a) => a.platform === msg.platform);
  if (!adapter) throw new Error(`no running ${msg.platform} adapter to deliver a recovered reply`);
  const start = events.find((e) => e.type === 'start');
  const texts = events.flatMap((e) => (e.type === 'done' ? [e.message.content] : e.type === 'notice' || e.type === 'error' ? [e.text] : []));
  if (!texts.length) return;
  const key = { platform: msg.platform, chatId: msg.chatId, ...(msg.threadId !== undefined ? { threadId: msg.threadId } : {}) };
  await adapter.deliver({ key, text: texts.join('\n\n'), characterName: start?.type === 'start' ? start.characterName : '' });
}
