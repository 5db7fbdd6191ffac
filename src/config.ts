import { z } from 'zod';
import { ConfigError } from './core/errors.js';

/**
 * Environment → typed configuration. Every variable is validated here, once, at start; an
 * invalid value stops start-up with the variable's name, what is allowed and what was given.
 * Defaults live in the schema so `.env.example` and this file are the whole truth.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), 'must be an http(s) URL');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const envSchema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z.string().min(1).default('data/charbridge.db'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),

  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  MODEL_TIMEOUT_MS: int(1000, 600_000).default(60_000),
  MODEL_MAX_RETRIES: int(0, 10).default(2),
  MODEL_CONCURRENCY: int(1, 1000).default(8),
  MODEL_MAX_TOKENS: int(16, 100_000).default(1024),

  ADMIN_API_KEY: optionalString.refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters'),
  ADMIN_USER_IDS: list.default([]).pipe(
    z.array(z.string().regex(/^(telegram|discord|slack):[^:\s]+$/, 'each entry must look like platform:userId, e.g. telegram:123')),
  ),
  DEFAULT_CHARACTER: z.string().min(1).default('aria'),

  RATE_LIMIT_USER_PER_MIN: int(1, 100_000).default(10),
  RATE_LIMIT_GROUP_PER_MIN: int(1, 100_000).default(30),
  RATE_LIMIT_API_KEY_PER_MIN: int(1, 1_000_000).default(60),
  CONTEXT_TOKENS: int(256, 2_000_000).default(8000),

  SSRF_ALLOW_HOSTS: list.default([]),
  MAX_BODY_BYTES: int(1024, 50_000_000).default(1_048_576),
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((v) => v.trim())
    .refine((v) => /^[\w.:/]*(\s*,\s*[\w.:/]+)*$/.test(v), 'must be true, false, or the proxies\' addresses (IPs, CIDRs or loopback, comma-separated)'),
  CONSOLE_SESSION_HOURS: int(1, 24 * 90).default(12),

  PROACTIVE_CRON: z.string().min(1).default('*/15 * * * *'),
  PROACTIVE_MIN_IDLE_MINUTES: int(1, 525_600).default(240),
  PROACTIVE_MIN_GAP_MINUTES: int(1, 525_600).default(720),
  PROACTIVE_DAILY_CAP: int(0, 1000).default(2),
  PROACTIVE_MAX_UNANSWERED: int(0, 1000).default(2),

  TELEGRAM_BOT_TOKEN: optionalString,
  TELEGRAM_API_ROOT: optionalUrl,
  TELEGRAM_WEBHOOK_URL: optionalUrl,
  TELEGRAM_WEBHOOK_SECRET: optionalString.refine(
    (v) => v === undefined || /^[A-Za-z0-9_-]{1,256}$/.test(v),
    'must be 1-256 characters of A-Z, a-z, 0-9, _ or -',
  ),

  DISCORD_TOKEN: optionalString,
  DISCORD_API_URL: optionalUrl,
  DISCORD_GUILD_IDS: list.default([]),
  DISCORD_CHARACTER_WEBHOOKS: bool.default(false),

  SLACK_BOT_TOKEN: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_API_URL: optionalUrl,
  SLACK_COMMAND: z.string().regex(/^\/[a-z0-9_-]{1,31}$/, 'must be a slash command like /charbridge').default('/charbridge'),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  port: number;
  host: string;
  databasePath: string;
  logLevel: Env['LOG_LEVEL'];
  shutdownTimeoutMs: number;
  model: {
    apiKey: string | undefined;
    baseURL: string | undefined;
    model: string;
    timeoutMs: number;
    maxRetries: number;
    concurrency: number;
    maxTokens: number;
    /** True when neither a key nor a base URL is set: the built-in offline model answers. */
    offline: boolean;
  };
  adminApiKey: string | undefined;
  adminUserIds: string[];
  defaultCharacter: string;
  limits: { userPerMin: number; groupPerMin: number; apiKeyPerMin: number; contextTokens: number };
  ssrfAllowHosts: string[];
  maxBodyBytes: number;
  /**
   * Which proxies' X-Forwarded-* headers to believe (fastify's trustProxy): none, any, or these
   * addresses. Decides the client IP and whether a request came over HTTPS.
   */
  trustProxy: boolean | string[];
  /** Lifetime of a web console sign-in. */
  consoleSessionMs: number;
  proactive: { cron: string; minIdleMinutes: number; minGapMinutes: number; dailyCap: number; maxUnanswered: number };
  telegram: { token: string; apiRoot: string | undefined; webhookUrl: string | undefined; webhookSecret: string | undefined } | undefined;
  discord: { token: string; apiUrl: string | undefined; guildIds: string[]; characterWebhooks: boolean } | undefined;
  slack:
    | { botToken: string; appToken: string | undefined; signingSecret: string | undefined; apiUrl: string | undefined; command: string }
    | undefined;
  /** Every secret value, so the logger can scrub them from any line that would contain one. */
  secrets: string[];
}

/** Parse and validate; throws ConfigError naming each bad variable and what it allows. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      const given = env[name];
      const shown = given === undefined ? 'unset' : isSecretName(name) ? '(hidden)' : JSON.stringify(given);
      return `  ${name}: ${issue.message} (got ${shown}). Fix it in your environment or .env — see .env.example.`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.TELEGRAM_WEBHOOK_URL && !e.TELEGRAM_WEBHOOK_SECRET) {
    throw new ConfigError(
      'Invalid configuration:\n  TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_WEBHOOK_URL is set, so forged updates are refused. Set it to a random string of A-Z, a-z, 0-9, _ or -.',
    );
  }
  if (e.SLACK_BOT_TOKEN && !e.SLACK_APP_TOKEN && !e.SLACK_SIGNING_SECRET) {
    throw new ConfigError(
      'Invalid configuration:\n  SLACK_APP_TOKEN or SLACK_SIGNING_SECRET: one is required with SLACK_BOT_TOKEN (Socket Mode needs the xapp- app token; HTTP events need the signing secret).',
    );
  }
  const secrets = [
    e.OPENAI_API_KEY,
    e.ADMIN_API_KEY,
    e.TELEGRAM_BOT_TOKEN,
    e.TELEGRAM_WEBHOOK_SECRET,
    e.DISCORD_TOKEN,
    e.SLACK_BOT_TOKEN,
    e.SLACK_APP_TOKEN,
    e.SLACK_SIGNING_SECRET,
  ].filter((s): s is string => typeof s === 'string' && s.length >= 6);

  return {
    port: e.PORT,
    host: e.HOST,
    databasePath: e.DATABASE_URL.replace(/^sqlite:(\/\/)?/, ''),
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    model: {
      apiKey: e.OPENAI_API_KEY,
      baseURL: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
      timeoutMs: e.MODEL_TIMEOUT_MS,
      maxRetries: e.MODEL_MAX_RETRIES,
      concurrency: e.MODEL_CONCURRENCY,
      maxTokens: e.MODEL_MAX_TOKENS,
      offline: !e.OPENAI_API_KEY && !e.OPENAI_BASE_URL,
    },
    adminApiKey: e.ADMIN_API_KEY,
    adminUserIds: e.ADMIN_USER_IDS,
    defaultCharacter: e.DEFAULT_CHARACTER,
    limits: {
      userPerMin: e.RATE_LIMIT_USER_PER_MIN,
      groupPerMin: e.RATE_LIMIT_GROUP_PER_MIN,
      apiKeyPerMin: e.RATE_LIMIT_API_KEY_PER_MIN,
      contextTokens: e.CONTEXT_TOKENS,
    },
    ssrfAllowHosts: e.SSRF_ALLOW_HOSTS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    consoleSessionMs: e.CONSOLE_SESSION_HOURS * 3_600_000,
    proactive: {
      cron: e.PROACTIVE_CRON,
      minIdleMinutes: e.PROACTIVE_MIN_IDLE_MINUTES,
      minGapMinutes: e.PROACTIVE_MIN_GAP_MINUTES,
      dailyCap: e.PROACTIVE_DAILY_CAP,
      maxUnanswered: e.PROACTIVE_MAX_UNANSWERED,
    },
    telegram: e.TELEGRAM_BOT_TOKEN
      ? { token: e.TELEGRAM_BOT_TOKEN, apiRoot: e.TELEGRAM_API_ROOT, webhookUrl: e.TELEGRAM_WEBHOOK_URL, webhookSecret: e.TELEGRAM_WEBHOOK_SECRET }
      : undefined,
    discord: e.DISCORD_TOKEN
      ? { token: e.DISCORD_TOKEN, apiUrl: e.DISCORD_API_URL, guildIds: e.DISCORD_GUILD_IDS, characterWebhooks: e.DISCORD_CHARACTER_WEBHOOKS }
      : undefined,
    slack: e.SLACK_BOT_TOKEN
      ? { botToken: e.SLACK_BOT_TOKEN, appToken: e.SLACK_APP_TOKEN, signingSecret: e.SLACK_SIGNING_SECRET, apiUrl: e.SLACK_API_URL, command: e.SLACK_COMMAND }
      : undefined,
    secrets,
  };
}

function parseTrustProxy(v: string): boolean | string[] {
  if (v === '' || v === 'true' || v === 'false') return v === 'true';
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function isSecretName(name: string): boolean {
  return /KEY|TOKEN|SECRET/.test(name);
}
