import { z } from 'zod';
import { ConfigError } from './core/errors.js';
import { int } from './core/config-values.js';
import { proxyPasswords, readProxySettings, type ProxySettings } from './core/proxy.js';
import { modelConfigSchema, type ModelConfig } from './llm/config.js';
import { engineSettingsSchema, limitsConfigSchema, type EngineSettings, type LimitsConfig } from './engine/config.js';
import { proactiveConfigSchema, type ProactiveConfig } from './scheduler/config.js';
import { memoryConfigSchema, type MemoryConfig } from './memory/config.js';
import { storeConfigSchema, type StoreConfig } from './store/config.js';
import { coordConfigSchema, type CoordConfig } from './coord/config.js';
import { httpConfigSchema, type HttpConfig } from './http/config.js';
import { telegramConfigSchema, type TelegramConfig } from '../adapters/telegram/config.js';
import { discordConfigSchema, type DiscordConfig } from '../adapters/discord/config.js';
import { slackConfigSchema, type SlackConfig } from '../adapters/slack/config.js';

/**
 * Environment → typed configuration. Each module owns one zod schema with its defaults (its
 * type is what the schema produces); this file only composes them and maps environment
 * variable names onto their fields. Every variable is validated once, at start; an invalid
 * value stops start-up with the variable's name, what is allowed and what was given.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** What the process itself needs: how much to log and how, how long shutdown may take. */
const runtimeConfigSchema = z.object({
  logLevel: z.enum(LOG_LEVELS).default('info'),
  /** `auto`: human-readable on a terminal, JSON lines when piped. */
  logFormat: z.enum(['auto', 'pretty', 'json']).default('auto'),
  shutdownTimeoutMs: int(0, 600_000).default(10_000),
  /** How long start-up waits for a PostgreSQL or Redis that refuses connections or is still starting; 0 fails at once. */
  startupWaitMs: int(0, 600_000).default(30_000),
  /** How often this process tells the database it is alive. */
  heartbeatMs: int(500, 60_000).default(3000),
  /** A process not heard from for this long is dead: the others take over its unfinished work. */
  instanceDeadAfterMs: int(2000, 600_000).default(10_000),
  /** How far the JS heap may grow past its live size before a full collection (see heap-policy.ts); 0: V8 decides. */
  heapGrowthPercent: int(0, 400).default(50),
  /** Largest young generation, MB (see heap-policy.ts); 0: V8's own maximum. */
  youngGenerationMb: int(0, 1024).default(16),
});

/** The sections and their schemas. A platform section exists only when its token is set. */
const sections = {
  runtime: runtimeConfigSchema,
  http: httpConfigSchema,
  store: storeConfigSchema,
  coord: coordConfigSchema,
  model: modelConfigSchema,
  engine: engineSettingsSchema,
  limits: limitsConfigSchema,
  proactive: proactiveConfigSchema,
  memory: memoryConfigSchema,
  telegram: telegramConfigSchema,
  discord: discordConfigSchema,
  slack: slackConfigSchema,
} as const;
type Section = keyof typeof sections;

/** Which section turns on when this variable is set (the others are always there). */
const ENABLED_BY: Partial<Record<Section, string>> = { telegram: 'TELEGRAM_BOT_TOKEN', discord: 'DISCORD_TOKEN', slack: 'SLACK_BOT_TOKEN' };

/** Every environment variable, and the field it sets. `.env.example` lists the same names. */
export const ENV_VARS: Record<string, [Section, string]> = {
  LOG_LEVEL: ['runtime', 'logLevel'],
  LOG_FORMAT: ['runtime', 'logFormat'],
  SHUTDOWN_TIMEOUT_MS: ['runtime', 'shutdownTimeoutMs'],
  STARTUP_WAIT_MS: ['runtime', 'startupWaitMs'],
  HEARTBEAT_MS: ['runtime', 'heartbeatMs'],
  INSTANCE_DEAD_AFTER_MS: ['runtime', 'instanceDeadAfterMs'],
  HEAP_GROWTH_PERCENT: ['runtime', 'heapGrowthPercent'],
  YOUNG_GENERATION_MB: ['runtime', 'youngGenerationMb'],
  PORT: ['http', 'port'],
  HOST: ['http', 'host'],
  MAX_BODY_BYTES: ['http', 'maxBodyBytes'],
  MAX_CARD_BYTES: ['http', 'maxCardBytes'],
  PUBLIC_URL: ['http', 'publicUrl'],
  REQUEST_TIMEOUT_MS: ['http', 'requestTimeoutMs'],
  SSRF_ALLOW_HOSTS: ['http', 'ssrfAllowHosts'],
  MAX_IMAGE_BYTES: ['http', 'maxImageBytes'],
  IMAGE_FETCH_TIMEOUT_MS: ['http', 'imageFetchTimeoutMs'],
  WEBHOOK_TIMEOUT_MS: ['http', 'webhookTimeoutMs'],
  WEBHOOK_CONCURRENCY: ['http', 'webhookConcurrency'],
  ADMIN_API_KEY: ['http', 'adminApiKey'],
  ADMIN_KEY_FILE: ['http', 'adminKeyFile'],
  METRICS_TOKEN: ['http', 'metricsToken'],
  TRUST_PROXY: ['http', 'trustProxy'],
  CONSOLE_SESSION_HOURS: ['http', 'consoleSessionHours'],
  MAX_CHARACTERS_PER_KEY: ['http', 'maxCharactersPerKey'],
  MAX_LOREBOOKS_PER_KEY: ['http', 'maxLorebooksPerKey'],
  MAX_LONG_POLLS_PER_KEY: ['http', 'maxLongPollsPerKey'],
  DATABASE_URL: ['store', 'url'],
  REDIS_URL: ['coord', 'redisUrl'],
  REDIS_PREFIX: ['coord', 'redisPrefix'],
  CHAT_LOCK_TTL_MS: ['coord', 'chatLockTtlMs'],
  IDEMPOTENCY_RETENTION_HOURS: ['store', 'idempotencyRetentionHours'],
  UPDATES_RETENTION_DAYS: ['store', 'updatesRetentionDays'],
  OPENAI_API_KEY: ['model', 'apiKey'],
  OPENAI_BASE_URL: ['model', 'baseURL'],
  OPENAI_MODEL: ['model', 'model'],
  MODEL_TIMEOUT_MS: ['model', 'timeoutMs'],
  MODEL_MAX_RETRIES: ['model', 'maxRetries'],
  MODEL_CONCURRENCY: ['model', 'concurrency'],
  MODEL_MAX_TOKENS: ['model', 'maxTokens'],
  CONTEXT_TOKENS: ['model', 'contextTokens'],
  MODEL_ALLOWLIST: ['model', 'allowlist'],
  OPENAI_FALLBACK_MODELS: ['model', 'fallbacks'],
  ADMIN_USER_IDS: ['engine', 'adminUserIds'],
  DEFAULT_CHARACTER: ['engine', 'defaultCharacter'],
  RATE_LIMIT_USER_PER_MIN: ['limits', 'userPerMin'],
  RATE_LIMIT_GROUP_PER_MIN: ['limits', 'groupPerMin'],
  RATE_LIMIT_API_KEY_PER_MIN: ['limits', 'apiKeyPerMin'],
  REFUSED_TURNS_PER_KEY_PER_HOUR: ['limits', 'refusedTurnsPerHour'],
  PROACTIVE_CRON: ['proactive', 'cron'],
  PROACTIVE_MIN_IDLE_MINUTES: ['proactive', 'minIdleMinutes'],
  PROACTIVE_MIN_GAP_MINUTES: ['proactive', 'minGapMinutes'],
  PROACTIVE_DAILY_CAP: ['proactive', 'dailyCap'],
  PROACTIVE_MAX_UNANSWERED: ['proactive', 'maxUnanswered'],
  MEMORY_ENABLED: ['memory', 'enabled'],
  MEMORY_EXTRACT_EVERY: ['memory', 'extractEvery'],
  MEMORY_MAX_FACTS: ['memory', 'maxFacts'],
  MEMORY_TOKENS: ['memory', 'tokens'],
  EMBEDDINGS_MODEL: ['memory', 'embeddingsModel'],
  TELEGRAM_BOT_TOKEN: ['telegram', 'token'],
  TELEGRAM_API_ROOT: ['telegram', 'apiRoot'],
  TELEGRAM_WEBHOOK_URL: ['telegram', 'webhookUrl'],
  TELEGRAM_WEBHOOK_SECRET: ['telegram', 'webhookSecret'],
  DISCORD_TOKEN: ['discord', 'token'],
  DISCORD_API_URL: ['discord', 'apiUrl'],
  DISCORD_GUILD_IDS: ['discord', 'guildIds'],
  DISCORD_CHARACTER_WEBHOOKS: ['discord', 'characterWebhooks'],
  DISCORD_SHARDS: ['discord', 'shards'],
  DISCORD_SHARD_COUNT: ['discord', 'shardCount'],
  SLACK_BOT_TOKEN: ['slack', 'botToken'],
  SLACK_APP_TOKEN: ['slack', 'appToken'],
  SLACK_SIGNING_SECRET: ['slack', 'signingSecret'],
  SLACK_API_URL: ['slack', 'apiUrl'],
  SLACK_COMMAND: ['slack', 'command'],
};

export interface Config {
  runtime: z.infer<typeof runtimeConfigSchema>;
  http: HttpConfig;
  store: StoreConfig;
  coord: CoordConfig;
  model: ModelConfig;
  engine: EngineSettings;
  limits: LimitsConfig;
  proactive: ProactiveConfig;
  memory: MemoryConfig;
  telegram: TelegramConfig | undefined;
  discord: DiscordConfig | undefined;
  slack: SlackConfig | undefined;
  /** The outbound proxy (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY in either case; ./core/proxy.ts). */
  proxy: ProxySettings;
  /** Every secret value, so the logger can scrub them from any line that would contain one. */
  secrets: string[];
}

/** Secret values (scrubbed from logs); a `…_FILE` variable names where a secret is, not the secret. */
const isSecretName = (name: string) => /KEY|TOKEN|SECRET/.test(name) && !name.endsWith('_FILE');

/** Parse and validate; throws ConfigError naming each bad variable and what it allows. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, Record<string, string>> = {};
  for (const [name, [section, field]] of Object.entries(ENV_VARS)) {
    const value = env[name];
    // A blank value (`PORT=` in .env) means unset: the default applies.
    if (value !== undefined && value.trim() !== '') (raw[section] ??= {})[field] = value;
  }
  const parsed: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [section, schema] of Object.entries(sections) as Array<[Section, z.ZodType]>) {
    const enabler = ENABLED_BY[section];
    if (enabler && raw[section]?.[ENV_VARS[enabler]![1]] === undefined) continue;
    const r = schema.safeParse(raw[section] ?? {});
    if (r.success) parsed[section] = r.data;
    else for (const issue of r.error.issues) problems.push(describe(section, issue, env));
  }
  const proxy = readProxySettings(env);
  problems.push(...proxy.problems);
  if (problems.length) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  const secrets = Object.keys(ENV_VARS)
    .filter(isSecretName)
    .map((name) => env[name]?.trim())
    .filter((s): s is string => typeof s === 'string' && s.length >= 6)
    .concat(proxyPasswords(proxy.settings));
  const c = parsed as Omit<Config, 'secrets' | 'proxy'>;
  return { ...c, telegram: c.telegram ?? undefined, discord: c.discord ?? undefined, slack: c.slack ?? undefined, proxy: proxy.settings, secrets };
}

/** One line per problem: the variable, what is wrong, what was given (secrets hidden), the fix. */
function describe(section: Section, issue: z.core.$ZodIssue, env: NodeJS.ProcessEnv): string {
  const field = String(issue.path[0] ?? '');
  const name = Object.entries(ENV_VARS).find(([, [s, f]]) => s === section && f === field)?.[0] ?? `${section}.${field}`;
  const given = env[name];
  const shown = given === undefined ? 'unset' : isSecretName(name) ? '(hidden)' : JSON.stringify(given);
  return `  ${name}: ${issue.message} (got ${shown}). Fix it in your environment or .env — see .env.example.`;
}
