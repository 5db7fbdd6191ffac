/**
 * `npm run bench -- cluster`: the same closed-loop Telegram load (webhook mode, each chat sends
 * its next message when the previous reply landed) against
 *   - one instance on SQLite without Redis (the floor: today's single-process default),
 *   - one instance on PostgreSQL + Redis (what coordination costs per turn),
 *   - three instances on PostgreSQL + Redis, the chats' updates spread over them round-robin.
 * Every instance is a process of its own (`node --import tsx src/main.ts`), on this machine's
 * cores, in front of the same fake Bot API and fake model in this process. Options: `--chats`
 * (default 30), `--turns` (default 10).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createDatabase, dropDatabase, findOrStartPostgres, testDatabaseName } from '../helpers/pg-server.js';
import { findOrStartRedis } from '../helpers/redis-server.js';
import { startFakeOpenAI } from '../fakes/openai.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import { postUpdate } from '../fakes/telegram-webhook.js';
import { startChildInstance, type ChildInstance } from '../cluster/child-instance.js';
import { ms, percentile, ratio } from './stats.js';

const SECRET = 'bench-webhook-secret-0123456789';
const METRICS_TOKEN = 'bench-metrics-token-0123456789';

/** CPU seconds the instance's process has used (prom-client's process metrics). */
async function cpuSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const m = /^process_cpu_seconds_total (\S+)$/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

interface Phase {
  /** CPU the instances used per answered turn (their own process metrics). */
  cpuMsPerTurn?: number;
  turnsPerSec: number;
  p50: number;
  p99: number;
  ok: number;
  issued: number;
}

/** Closed loop: every chat posts a message, waits for its reply, posts the next. */
async function drive(telegram: FakeTelegram, urls: string[], chats: number, turns: number, base: number): Promise<Phase> {
  const waiters = new Map<number, () => void>();
  const stop = telegram.onCall((call) => {
    if (call.method === 'sendMessage' && call.status === 200) waiters.get(Number(call.params.chat_id))?.();
  });
  const latencies: number[] = [];
  let ok = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: chats }, async (_, c) => {
      const chatId = base + c;
      for (let t = 0; t < turns; t++) {
        const update = telegram.buildUserMessage({ chat: { id: chatId, type: 'private' }, from: { id: chatId }, text: `turn ${t} of chat ${c}` });
        const started = performance.now();
        const replied = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 30_000);
          waiters.set(chatId, () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        await postUpdate(`${urls[(c + t) % urls.length]}/telegram/webhook`, update, SECRET, false);
        if (await replied) {
          ok++;
          latencies.push(performance.now() - started);
        }
        waiters.delete(chatId);
      }
    }),
  );
  stop();
  const seconds = (performance.now() - t0) / 1000;
  return { turnsPerSec: ok / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), ok, issued: chats * turns };
}

export async function benchCluster(options: Record<string, string>): Promise<Record<string, string | number>> {
  const chats = Number(options.chats ?? 30);
  const turns = Number(options.turns ?? 10);
  const pg = await findOrStartPostgres();
  if ('missing' in pg) return { skipped: `no PostgreSQL: ${pg.missing}` };
  const redis = await findOrStartRedis();
  if ('missing' in redis) return { skipped: `no Redis: ${redis.missing}` };
  const openai = await startFakeOpenAI({ chunkDelayMs: 2 });
  const telegram = await startFakeTelegram({ limits: { globalPerSecond: 10_000, chatMinIntervalMs: 0, chatBurst: 100 } });
  const dir = mkdtempSync(join(tmpdir(), 'charbridge-bench-cluster-'));
  const children: ChildInstance[] = [];
  const dbs: string[] = [];
  const common = {
    ADMIN_API_KEY: 'bench-admin-key-0123456789',
    OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model', MODEL_MAX_RETRIES: '0', MODEL_CONCURRENCY: '64',
    TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
    TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/telegram/webhook', TELEGRAM_WEBHOOK_SECRET: SECRET,
    METRICS_TOKEN: METRICS_TOKEN,
    RATE_LIMIT_USER_PER_MIN: '100000', RATE_LIMIT_GROUP_PER_MIN: '100000', LOG_LEVEL: 'error',
  };
  const phase = async (label: string, n: number, env: Record<string, string>, base: number): Promise<Phase> => {
    const mine: ChildInstance[] = [];
    for (let i = 0; i < n; i++) mine.push(await startChildInstance({ ...common, ...env }));
    children.push(...mine);
    await drive(telegram, mine.map((c) => c.url), Math.min(chats, 5), 2, base + 900_000); // warm-up
    const cpu = async () => (await Promise.all(mine.map((c) => cpuSeconds(c.url)))).reduce((a, b) => a + b, 0);
    const cpuBefore = await cpu();
    const r = await drive(telegram, mine.map((c) => c.url), chats, turns, base);
    r.cpuMsPerTurn = ((await cpu()) - cpuBefore) * 1000 / Math.max(1, r.ok);
    await Promise.all(mine.map((c) => c.kill()));
    process.stdout.write(`  ${label}: ${r.ok}/${r.issued} turns, ${r.turnsPerSec.toFixed(1)}/s, p50 ${ms(r.p50)}, p99 ${ms(r.p99)}, CPU ${ms(r.cpuMsPerTurn)}/turn\n`);
    return r;
  };
  try {
    const sqlite = await phase('1 instance, SQLite', 1, { DATABASE_URL: join(dir, 'bench.db') }, 10_000);
    const pgEnv = async () => {
      const name = testDatabaseName(process.pid);
      dbs.push(name);
      return { DATABASE_URL: await createDatabase(pg.adminUrl, name), REDIS_URL: redis.url, REDIS_PREFIX: `bench:${randomBytes(4).toString('hex')}:` };
    };
    const one = await phase('1 instance, PostgreSQL + Redis', 1, await pgEnv(), 20_000);
    const three = await phase('3 instances, PostgreSQL + Redis', 3, await pgEnv(), 30_000);
    const row = (r: Phase) => `${r.ok}/${r.issued} ok, ${r.turnsPerSec.toFixed(1)} turns/s, p50 ${ms(r.p50)}, p99 ${ms(r.p99)}, CPU ${ms(r.cpuMsPerTurn ?? NaN)} per turn`;
    return {
      load: `${chats} Telegram chats × ${turns} turns, closed loop, webhook, model streaming 2 ms chunks`,
      'floor: 1 instance on SQLite': row(sqlite),
      '1 instance on PostgreSQL + Redis': `${row(one)} (p50 ${ratio(one.p50, sqlite.p50)} the floor, throughput ${ratio(one.turnsPerSec, sqlite.turnsPerSec)}, CPU per turn ${ratio(one.cpuMsPerTurn!, sqlite.cpuMsPerTurn!)})`,
      '3 instances on PostgreSQL + Redis': `${row(three)} (p50 ${ratio(three.p50, sqlite.p50)} the floor, throughput ${ratio(three.turnsPerSec, sqlite.turnsPerSec)}, CPU per turn ${ratio(three.cpuMsPerTurn!, sqlite.cpuMsPerTurn!)})`,
      note: 'latency is mostly the Telegram adapter\'s deliberate 1 s wait before its first send (it collects the stream); all instances share this machine\'s cores, so 3 instances show coordination cost, not added capacity',
    };
  } finally {
    await Promise.allSettled(children.map((c) => c.kill()));
    await Promise.allSettled([openai.close(), telegram.close()]);
    for (const n of dbs) await dropDatabase(pg.adminUrl, n).catch(() => undefined);
    await pg.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
