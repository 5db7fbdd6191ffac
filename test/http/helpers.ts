import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createServices, platformStatus, type ChatService, type Resolve, type ServiceParts, type Services } from '../../src/services/index.js';
import type { Clock } from '../../src/core/clock.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** The admin key every HTTP test app is configured with. */
export const ADMIN_KEY = 'admin-key-for-tests-0123456789';

export interface ApiHarness extends Harness {
  app: FastifyInstance;
  config: Config;
  /** The app's chat service; `chat.drain()` waits until async turns have reached the updates feed. */
  chat: ChatService;
  /** Create a tenant key through the admin API; returns its id and secret. */
  newKey(opts?: { name?: string; credits?: number | null }): Promise<{ id: string; key: string }>;
  /** `app.inject` with a key (admin when omitted, none when null) and a JSON body. */
  call(method: InjectOptions['method'], url: string, opts?: { key?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
}

/**
 * The real app over the real engine (in-memory SQLite, shipped presets, the real openai SDK
 * against the fake OpenAI server), configured through `loadConfig` like production.
 */
export async function startApi(opts: { env?: Record<string, string>; clock?: Clock; concurrency?: number; dbPath?: string; resolve?: Resolve } = {}): Promise<ApiHarness> {
  const config = loadConfig({
    DATABASE_URL: ':memory:',
    LOG_LEVEL: 'silent',
    ADMIN_API_KEY: ADMIN_KEY,
    RATE_LIMIT_API_KEY_PER_MIN: '1000',
    MAX_BODY_BYTES: '65536',
    ...opts.env,
  });
  const h = await startHarness({ maxRetries: 0, config: { apiKeyPerMin: config.limits.apiKeyPerMin, refusedTurnsPerHour: config.limits.refusedTurnsPerHour, contextTokens: config.model.contextTokens }, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.concurrency ? { concurrency: opts.concurrency } : {}), ...(opts.dbPath ? { dbPath: opts.dbPath } : {}) });
  const services = servicesFor(h, config, opts.resolve ? { resolve: opts.resolve } : {});
  const { chat } = services;
  const app = await buildApp({ config, log: h.log, services });
  await app.ready();
  const call: ApiHarness['call'] = (method, url, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const key = o.key === undefined ? ADMIN_KEY : o.key;
    if (key !== null) headers['x-api-key'] = key;
    return app.inject({ method, url, headers, ...(o.body !== undefined ? { payload: o.body as InjectOptions['payload'] } : {}) });
  };
  const newKey: ApiHarness['newKey'] = async (k = {}) => {
    const res = await call('POST', '/api/v1/api-keys', { body: { name: k.name ?? 'tenant', ...(k.credits !== undefined ? { credits: k.credits } : {}) } });
    if (res.statusCode !== 201) throw new Error(`key creation failed: ${res.body}`);
    const json = res.json<{ id: string; key: string }>();
    return { id: json.id, key: json.key };
  };
  return {
    ...h,
    app,
    config,
    chat,
    newKey,
    call,
    close: async () => {
      await app.close();
      await h.close();
    },
  };
}

/** The services over a harness's store and engine, configured by `config` as the runtime does it. */
export function servicesFor(h: Harness, config: Config, extra: Partial<ServiceParts> & { resolve?: Resolve } = {}): Services {
  const { resolve, ...parts } = extra;
  return createServices({
    store: h.store,
    engine: h.engine,
    log: h.log,
    clock: h.clock,
    limits: h.limits,
    apiKeyPerMin: config.limits.apiKeyPerMin,
    adminApiKey: config.http.adminApiKey,
    ssrfAllowHosts: config.http.ssrfAllowHosts,
    imageFetch: { allowHosts: config.http.ssrfAllowHosts, maxBytes: config.http.maxImageBytes, deadlineMs: config.http.imageFetchTimeoutMs, resolve },
    defaultCharacter: config.engine.defaultCharacter,
    models: config.model,
    platformStatus: platformStatus(config, h.store),
    consoleSessionMs: config.http.consoleSessionHours * 3_600_000,
    instance: { id: h.engineConfig.instanceId, deadAfterMs: h.engineConfig.deadAfterMs },
    quotas: { charactersPerKey: config.http.maxCharactersPerKey, lorebooksPerKey: config.http.maxLorebooksPerKey, longPollsPerKey: config.http.maxLongPollsPerKey },
    ...parts,
  });
}

/** A character body that passes every bound of the characters API. */
export function validCharacter(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Alex',
    gender: 'male',
    personality: 'Curious, witty, and always up for a deep conversation about science',
    speakingStyle: 'Casual and playful, uses metaphors, asks lots of questions',
    ...over,
  };
}

/** The `{error:{code,message,details}}` body of a response. */
export function errorOf(res: LightMyRequestResponse): { code: string; message: string; details?: Record<string, unknown> } {
  return res.json<{ error: { code: string; message: string; details?: Record<string, unknown> } }>().error;
}
