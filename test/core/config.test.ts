import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_VARS, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/core/errors.js';

describe('config', () => {
  it('starts with no configuration at all: defaults and the offline model', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(3000);
    expect(c.store.url).toBe('data/charbridge.db');
    expect(c.model.offline).toBe(true);
    expect(c.limits).toMatchObject({ userPerMin: 10, groupPerMin: 30, apiKeyPerMin: 60 });
    expect(c.telegram).toBeUndefined();
  });

  it('names the variable, what is allowed and the fix', () => {
    try {
      loadConfig({ PORT: 'abc', RATE_LIMIT_USER_PER_MIN: '0', ADMIN_USER_IDS: 'telegram:1,bogus' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/PORT: .*got "abc"/);
      expect(msg).toMatch(/RATE_LIMIT_USER_PER_MIN: .*>=1/);
      expect(msg).toMatch(/ADMIN_USER_IDS: each entry must look like platform:userId/);
      expect(msg).toContain('.env.example');
    }
  });

  it('never echoes a secret in a configuration error', () => {
    expect(() => loadConfig({ ADMIN_API_KEY: 'short-secret' })).toThrow(/ADMIN_API_KEY: .*\(got \(hidden\)\)/);
  });

  it('requires a webhook secret with a Telegram webhook URL', () => {
    expect(() => loadConfig({ TELEGRAM_BOT_TOKEN: '1:abc', TELEGRAM_WEBHOOK_URL: 'https://x.example/tg' })).toThrow(/TELEGRAM_WEBHOOK_SECRET/);
  });

  it('uses a real model as soon as a key or a base URL is set', () => {
    expect(loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }).model.offline).toBe(false);
    expect(loadConfig({ OPENAI_API_KEY: 'sk-123456' }).model.offline).toBe(false);
  });

  it('lists every variable in .env.example', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const missing = Object.keys(ENV_VARS).filter((name) => !new RegExp(`^# ${name}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });

  it('reads Discord shards as ranges and ids, with the total over all instances', () => {
    const dc = (env: Record<string, string>) => loadConfig({ DISCORD_TOKEN: 'discord-token', ...env }).discord;
    expect(dc({})?.shards).toBeUndefined();
    expect(dc({})?.shardCount).toBeUndefined();
    expect(dc({ DISCORD_SHARDS: '0-3, 8,2', DISCORD_SHARD_COUNT: '10' })).toMatchObject({ shards: [0, 1, 2, 3, 8], shardCount: 10 });
    expect(dc({ DISCORD_SHARD_COUNT: 'auto' })).toMatchObject({ shardCount: 'auto' });
    expect(() => dc({ DISCORD_SHARDS: '0-4' })).toThrow(/DISCORD_SHARD_COUNT: must be set with DISCORD_SHARDS/);
    expect(() => dc({ DISCORD_SHARDS: '8-10', DISCORD_SHARD_COUNT: '10' })).toThrow(/DISCORD_SHARDS: has ids beyond DISCORD_SHARD_COUNT=10/);
    expect(() => dc({ DISCORD_SHARDS: '3-1', DISCORD_SHARD_COUNT: '10' })).toThrow(/DISCORD_SHARDS: "3-1" is not a shard id or range/);
    expect(() => dc({ DISCORD_SHARD_COUNT: '0' })).toThrow(/DISCORD_SHARD_COUNT/);
  });

  it('reads the log format, the metrics token and the admin key file, and scrubs only secrets', () => {
    const c = loadConfig({ LOG_FORMAT: 'json', METRICS_TOKEN: 'metrics-token-0123456789', ADMIN_KEY_FILE: '/srv/charbridge/admin-key' });
    expect(c.runtime.logFormat).toBe('json');
    expect(c.http).toMatchObject({ metricsToken: 'metrics-token-0123456789', adminKeyFile: '/srv/charbridge/admin-key' });
    expect(c.secrets).toEqual(['metrics-token-0123456789']); // a path is not a secret
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT: .*got "xml"/);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: must be at least 16 characters/);
  });
});
