import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, portOpen } from './ports.js';
import { redact } from './pg-server.js';

/** A Redis server tests may write keys on, each test under its own prefix. */
export interface RedisServer {
  url: string;
  source: 'env' | 'local' | 'started';
  stop(): Promise<void>;
  /** A server this run started: killed (SIGKILL, so every key is lost), down `downMs`, then started again on the same port. */
  crash?(downMs: number): Promise<void>;
}

/** A client that fails fast instead of reconnecting forever (tests want an answer, not a hang). */
export function testRedisClient(url: string): Redis {
  return new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
}

async function answersPing(url: string): Promise<boolean> {
  const r = testRedisClient(url);
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * TEST_REDIS_URL when set; else a server already on 127.0.0.1:6379; else a throwaway
 * `redis-server` (no persistence) on a free loopback port. Returns a reason when none works.
 */
export async function findOrStartRedis(): Promise<RedisServer | { missing: string }> {
  const env = process.env.TEST_REDIS_URL;
  if (env) {
    if (await answersPing(env)) return { url: env, source: 'env', stop: async () => {} };
    return { missing: `TEST_REDIS_URL is set but no Redis answers there (${redact(env)})` };
  }
  const local = 'redis://127.0.0.1:6379';
  if ((await portOpen(6379)) && (await answersPing(local))) return { url: local, source: 'local', stop: async () => {} };
  const bin = redisServerBin();
  if (!bin) return { missing: 'no Redis server on 127.0.0.1:6379 and no redis-server to start one' };
  return startRedis(bin).catch((err: Error) => ({ missing: `could not start a throwaway Redis: ${err.message}` }));
}

/** Where `redis-server` is installed, if it is (Debian's path, then PATH). */
export function redisServerBin(): string | undefined {
  return ['/usr/bin/redis-server', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'redis-server'))].find((p) => existsSync(p));
}

/** A throwaway redis-server (no persistence) on a free loopback port, stopped by `stop()`. */
export async function startRedis(bin: string): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'charbridge-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const launch = async () => {
    const child = spawn(bin, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; !(await answersPing(url)); i++) {
      if (child.exitCode !== null || i >= 100) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not start on port ${port}`);
      }
      await sleep(50);
    }
    return { child, exited };
  };
  let server = await launch().catch(async (err: Error) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    url,
    source: 'started',
    crash: async (downMs) => {
      server.child.kill('SIGKILL');
      await server.exited;
      await sleep(downMs);
      server = await launch();
    },
    stop: async () => {
      server.child.kill('SIGTERM');
      await server.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
