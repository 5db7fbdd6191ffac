import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { Clock } from './core/clock.js';
import { systemClock } from './core/clock.js';
import { createNetwork, type Network } from './core/network.js';
import { proxyNotes, unreachableProxies } from './proxy-notes.js';
import type { PlatformAdapter } from './core/adapter.js';
import type { InboundMessage, ReplyEvent } from './core/types.js';
import { createLogger, resolveLogFormat, type Logger } from './log.js';
import type { Store } from './store/index.js';
import type { ModelClient } from './llm/index.js';
import { observeModel } from './llm/observed.js';
import type { Engine } from './engine/index.js';
import { buildApp } from './http/app.js';
import { listenError } from './http/config.js';
import { describeUnknown, type UnknownVariable } from './unknown-variables.js';
import { DeliveryRouter, ProactiveScheduler, type ProactiveTarget } from './scheduler/index.js';
import { createServices, platformStatus, type Resolve, type Services } from './services/index.js';
import { Liveness } from './services/liveness.js';
import { housekeep } from './services/housekeeping.js';
import { WebhookSender } from './services/webhooks.js';
import { ApiProactiveTarget } from './services/proactive-api.js';
import { setUpEngine } from './engine-setup.js';
import { AdapterStarts } from './adapter-starts.js';
import type { LongTermMemory } from './memory/index.js';
import { ensureAdminKey, type AdminKey } from './admin-key.js';
import { Metrics } from './metrics/prometheus.js';
import { announceWhenReady } from './announce.js';
import { createCoordination, type Coordination } from './coord/index.js';
import { shareFeedWakeUps, takeOverStoppedInstances, warnUncoordinatedSecondInstance } from './cluster.js';

export { defaultPresetDir } from './engine-setup.js';

export interface Runtime {
  config: Config;
  log: Logger;
  store: Store;
  model: ModelClient;
  engine: Engine;
  app: FastifyInstance;
  adapters: PlatformAdapter[];
  scheduler: ProactiveScheduler;
  /** Long-term memory (tests wait for its background extractions with `memory.idle()`). */
  memory: LongTermMemory;
  services: Services;
  webhooks: WebhookSender;
  metrics: Metrics;
  /** Where this instance meets the others (Redis), or itself alone. */
  coordination: Coordination;
  /** The admin key in use and where it came from (the environment, a key file, memory). */
  adminKey: AdminKey;
  /** The address the HTTP server listens on, e.g. http://127.0.0.1:3000. */
  url: string;
  /** Resolves true once ready ("charbridge is running" logged, banner shown); false if shut down first. */
  ready: Promise<boolean>;
  /** Stop input, let in-flight turns finish within the deadline, close the database. */
  shutdown(reason?: string): Promise<void>;
}

/** Parts a test (or an embedding program) may supply instead of the defaults. */
export interface RuntimeOverrides {
  log?: Logger;
  clock?: Clock;
  model?: ModelClient;
  presetDir?: string;
  /** Where proactive messages of API conversations go (updates feed + webhooks). */
  apiTarget?: ProactiveTarget;
  /** Build platform adapters; main.ts passes the real ones for every configured platform. */
  adapters?: (ctx: { config: Config; engine: Engine; log: Logger; store: Store; coordination: Coordination; network: Network; othersRecent: (withinMs: number) => Promise<boolean> }) => PlatformAdapter[] | Promise<PlatformAdapter[]>;
  /** How image and webhook hosts are resolved (tests pin names to loopback). */
  net?: { resolve?: Resolve };
  /**
   * Show the start-up banner (console URL, admin key, model, platforms, next steps) to a person:
   * main.ts writes it to the terminal when logs are human-readable. Without it the same facts
   * go into the "charbridge is running" log line, never the key.
   */
  banner?: (text: string) => void;
  /** Variables that look meant for charbridge but are none of its settings (main.ts finds them): warned about at start and in the banner. */
  unknownVariables?: UnknownVariable[];
}

/** With the admin key in force: in the configuration, and among the secrets the logger scrubs. */
function withAdminKey(config: Config, adminKey: AdminKey): Config {
  return { ...config, http: { ...config.http, adminApiKey: adminKey.key }, secrets: [...new Set([...config.secrets, adminKey.key])] };
}

/**
 * The composition root: config → admin key → store → model → engine → adapters → HTTP →
 * scheduler, with metrics subscribed at their seams (engine turns, model calls, webhook and
 * proactive deliveries; adapter states and the inbox read at scrape time).
 * `main.ts` calls this with the environment; end-to-end tests call it with fakes' addresses.
 */
export async function startRuntime(loaded: Config, overrides: RuntimeOverrides = {}): Promise<Runtime> {
  const adminKey = ensureAdminKey(loaded);
  const config = withAdminKey(loaded, adminKey);
  const log = overrides.log ?? createLogger({ level: config.runtime.logLevel, secrets: config.secrets, format: resolveLogFormat(config.runtime.logFormat) });
  const clock = overrides.clock ?? systemClock;
  const proxy = proxyNotes(config);
  const ignored = [...(overrides.unknownVariables ?? []).map(describeUnknown), ...proxy.fixes, ...(await unreachableProxies(config.proxy))];
  for (const line of ignored) log.warn(line);
  if (proxy.info) log.info(proxy.info);
  const network = await createNetwork(config.proxy);
  let adapters: PlatformAdapter[] = [];
  const starts = new AdapterStarts();
  const metrics = new Metrics({
    adapters: () => adapters.map((a) => a.status()),
    inboxBacklog: () => store.events.backlog(),
    engine: () => engine.stats(),
  });
  // This process, as the owner of what it claims: live instances never take each other's work.
  const instanceId = randomUUID();
  // A dead instance's messages are taken over within INSTANCE_DEAD_AFTER_MS and a heartbeat or two.
  const coordination = await createCoordination(
    { ...config.coord, takeoverMs: config.runtime.instanceDeadAfterMs + 2 * config.runtime.heartbeatMs },
    log,
    { waitMs: config.runtime.startupWaitMs, log },
  );
  const { store, model, engine, limits, memory } = await setUpEngine(config, {
    log,
    clock,
    instanceId,
    coordination,
    network,
    ...(overrides.model ? { model: overrides.model } : {}),
    ...(overrides.presetDir ? { presetDir: overrides.presetDir } : {}),
    wrapModel: (m) => observeModel(m, (e) => metrics.modelCall(e)),
  });
  engine.onTurn((e) => metrics.turn(e));
  // Proactive messages: platform conversations through their adapter, API ones to the updates
  // feed and the key's webhook (an outbox drained by the webhook sender). The scheduler is
  // attached before the adapters exist, so their command menus include `/proactive`.
  const webhooks = new WebhookSender(store, clock, log.child({ component: 'webhooks' }), {
    ssrfAllowHosts: config.http.ssrfAllowHosts,
    timeoutMs: config.http.webhookTimeoutMs,
    concurrency: config.http.webhookConcurrency,
    proxy: config.proxy,
    owner: instanceId,
    deadAfterMs: config.runtime.instanceDeadAfterMs,
    ...overrides.net,
  });
  webhooks.onDelivery((outcome) => metrics.webhook(outcome));
  const delivery = new DeliveryRouter(overrides.apiTarget ?? new ApiProactiveTarget(store, webhooks));
  const scheduler = ProactiveScheduler.attach(
    { engine, store, clock, log, target: delivery },
    { defaults: config.proactive, owner: instanceId, deadAfterMs: config.runtime.instanceDeadAfterMs },
  );
  scheduler.onDelivery((e) => metrics.proactive(e));
  // Cleanly stopped instances count: every instance of a cluster stopped and restarted with an
  // emptied Redis is not a new deployment, and their calls are still in the platform's window.
  const othersRecent = async (withinMs: number) => (await store.instances.ranSince(clock.now() - withinMs)).some((id) => id !== instanceId);
  adapters = (await overrides.adapters?.({ config, engine, log, store, coordination, network, othersRecent })) ?? [];
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
    imageFetch: { allowHosts: config.http.ssrfAllowHosts, maxBytes: config.http.maxImageBytes, deadlineMs: config.http.imageFetchTimeoutMs, proxy: config.proxy, ...overrides.net },
    defaultCharacter: config.engine.defaultCharacter,
    models: config.model,
    platformStatus: platformStatus(config, store, adapters),
    adapterStates: () => adapters.map((a) => a.status()),
    starting: () => starts.waiting(),
    consoleSessionMs: config.http.consoleSessionHours * 3_600_000,
    coordination,
    instance: { id: instanceId, deadAfterMs: config.runtime.instanceDeadAfterMs },
    quotas: { charactersPerKey: config.http.maxCharactersPerKey, lorebooksPerKey: config.http.maxLorebooksPerKey, longPollsPerKey: config.http.maxLongPollsPerKey },
    memory: memory.control,
  });
  const liveness = new Liveness(store, clock, log, {
    instanceId,
    heartbeatMs: config.runtime.heartbeatMs,
    presence: coordination.presence,
    deadAfterMs: config.runtime.instanceDeadAfterMs,
    // A recovered reply waits for its platform's adapter to start; its message takes its place in
    // its chat's line at once, so the first sweep (before the adapters receive anything) puts what
    // a stopped run left ahead of anything new.
    recover: async () => {
      webhooks.lookAgain();
      scheduler.recoverBetweenTicks();
      return (
        (await engine.recover(async (msg, events) => {
          await starts.of(adapters, msg.platform);
          await redeliver(adapters, msg, events);
        })) + (await services.chat.recover())
      );
    },
  });
  if (!(await takeOverStoppedInstances(store, coordination, instanceId, log))) {
    await warnUncoordinatedSecondInstance(store, coordination, clock.now(), config.runtime.instanceDeadAfterMs, log);
  }
  await liveness.register();
  const stopSharing = shareFeedWakeUps(store, coordination, instanceId);
  let app: Awaited<ReturnType<typeof buildApp>>;
  let url: string;
  liveness.start();
  try {
    const rawRoutes = adapters.flatMap((a) => a.routes?.() ?? []);
    app = await buildApp({ config, log, services, rawRoutes, scheduler, metrics });
    await app.listen({ port: config.http.port, host: config.http.host }).catch((err: unknown) => {
      throw listenError(err, config.http.port, config.http.host);
    });
    const addr = app.server.address();
    url = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
    await starts.run(adapters, log);
  } finally {
    starts.abandon();
  }
  webhooks.start();
  scheduler.startSweeping();
  // Once per due time in the cluster (BullMQ with Redis), or in this process (node-cron).
  const proactive = await coordination.every('proactive', config.proactive.cron, () => scheduler.tick());
  const housekeeping = await coordination.every('housekeeping', '17 * * * *', () => housekeep(store, clock.now(), config.store));
  starts.finish();
  const stopWaiting = new AbortController();
  const ready = announceWhenReady({
    readiness: services.readiness,
    log,
    signal: stopWaiting.signal,
    info: () => ({ url, adminKey, model: { label: model.label, offline: model.offline }, platforms: adapters.map((a) => ({ platform: a.platform, mode: a.status().mode })), ignored }),
    extra: { proactiveCron: config.proactive.cron },
    ...(overrides.banner ? { banner: overrides.banner } : {}),
  });

  let closing: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown') =>
    (closing ??= (async () => {
      stopWaiting.abort();
      log.info({ reason }, 'shutting down: no new input, finishing in-flight turns');
      await proactive.stop();
      await scheduler.stopSweeping();
      await housekeeping.stop();
      await webhooks.stop();
      engine.stopAccepting();
      await Promise.allSettled(adapters.map((a) => a.stop()));
      const drained = await engine.drain(config.runtime.shutdownTimeoutMs);
      if (!drained) log.warn({ inFlight: engine.inFlightCount }, 'shutdown deadline reached with turns still running');
      // Closing writes the database was down for: what still cannot land is answered again by the next start.
      const owed = await engine.settleOwed();
      if (owed) log.error({ owed }, 'stopping with messages answered but not marked so (the database is unreachable): the next start may answer them again');
      // Extractions started by the last replies: unfinished ones keep their messages unread.
      await memory.stop(config.runtime.shutdownTimeoutMs);
      await app.close();
      // Only a clean stop leaves the instance table; unfinished claims then wait for the next start.
      if (drained) await liveness.stop();
      stopSharing();
      await store.close();
      await coordination.close();
      await network.close();
      log.info('stopped');
    })());

  return { config, log, store, model, engine, app, adapters, scheduler, memory, services, webhooks, metrics, adminKey, coordination, url, ready, shutdown };
}

/** Send what a recovered turn produced through its platform's adapter, as a plain message. */
export async function redeliver(adapters: PlatformAdapter[], msg: InboundMessage, events: ReplyEvent[]): Promise<void> {
  const adapter = adapters.find((a) => a.platform === msg.platform);
  if (!adapter) throw new Error(`no running ${msg.platform} adapter to deliver a recovered reply`);
  const start = events.find((e) => e.type === 'start');
  const texts = events.flatMap((e) => (e.type === 'done' ? [e.message.content] : e.type === 'notice' || e.type === 'error' ? [e.text] : []));
  if (!texts.length) return;
  const thread = msg.threadId ?? msg.replyThreadId;
  const key = { platform: msg.platform, chatId: msg.chatId, ...(thread !== undefined ? { threadId: thread } : {}) };
  await adapter.deliver({ key, text: texts.join('\n\n'), characterName: start?.type === 'start' ? start.characterName : '', dedupeKey: msg.eventId, maybeSent: true });
}
