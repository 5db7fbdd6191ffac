/**
 * `npm run bench -- telegram-load [--chats 50] [--turns 20] [--limits on|off] [--rounds 1] [--profile DIR] [--env KEY=VALUE,…]`
 *
 * Many Telegram private chats talking to the bot at once, closed loop (each chat sends its next
 * message when the previous reply landed), in real time against the project's fakes: the fake
 * Bot API enforcing Telegram's limits (1 message/s per chat, 30/s per bot, 429 + retry_after)
 * and delivering updates to the bot's webhook, and the fake OpenAI server streaming 40 chunks
 * 5 ms apart. The bot runs as its own process, started through its normal entry and configured
 * by environment only, so CPU and memory are its own. In the same run a floor is measured: a
 * bare bot (./telegram-floor-bot.ts) doing only webhook → SDK stream → one sendMessage; and a
 * durable floor, the same bot keeping the least of what charbridge promises in SQLite (the claim
 * before the webhook is answered, the user's message before the model, the reply, completion
 * after delivery, the chat's newest messages as context), so the report can say how much of
 * charbridge's cost over the bare bot is those promises.
 *
 * `--limits off` lifts the fake's flood limits (charbridge still paces itself). `--profile DIR`
 * runs charbridge under `node --cpu-prof` and prints where its CPU went during the load.
 * `--rounds N` then measures N − 1 more rounds of the floor bot and charbridge (see `moreRounds`).
 * `--env` sets variables for charbridge's runs only (`--env MEMORY_ENABLED=false`: the turn without
 * long-term memory, which the floor bots do not have either).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentText, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { startFakeTelegram, type FakeTelegram, type FloodLimits } from '../fakes/telegram.js';
import { startBotProcess, type BotProcess, type ProcessUsage } from './bot-process.js';
import { describeProfile, mainThreadProfile, type ProfileSummary } from './cpu-profile.js';
import { percentile } from './stats.js';
import { replyFor, runClosedLoop, tagIn, type LoadResult } from './telegram-load-driver.js';
import { botEnv, charbridgeEnv, cpuPerTurn, cpuRatio, cpuUsed, envNote, freePort, loadSettings, monotonicUs, moreRounds, newProfileDir, ratioText, RUN_AS, until, type LoadSettings, type Phase as LoadPhase, type Round } from './platform-load.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FLOOR_SCRIPT = join(root, 'test/bench/telegram-floor-bot.ts');
const CHARBRIDGE_SCRIPT = join(root, 'src/main.ts');
const TOKEN = '7000000001:bench-load-token';
const SECRET = 'bench-webhook-secret';
const NO_LIMITS: Partial<FloodLimits> = { chatMinIntervalMs: 0, groupPerWindow: Number.POSITIVE_INFINITY, globalPerSecond: Number.POSITIVE_INFINITY };

/** telegram-load's settings are every load bench's (platform-load.ts), with its own defaults. */
export type Settings = LoadSettings;

export function settingsFrom(options: Record<string, string>): Settings {
  return loadSettings('telegram-load', options, { chats: 50, turns: 20 });
}

interface Phase extends LoadPhase {
  profile?: ProfileSummary | undefined;
}

interface PhaseSetup {
  name: string;
  script: string;
  extraEnv: Record<string, string>;
  /** Run under `node --cpu-prof`, writing the profile here. */
  profileDir?: string | undefined;
}

export async function runPhase(p: PhaseSetup, s: Settings, model: FakeOpenAI, work: string): Promise<Phase> {
  const fake = await startFakeTelegram({ token: TOKEN, ...(s.limits ? {} : { limits: NO_LIMITS }) });
  const port = await freePort();
  const cwd = join(work, p.name);
  mkdirSync(cwd, { recursive: true });
  const bot: BotProcess = startBotProcess({
    script: p.script,
    cwd, // no .env of a developer's is picked up
    logFile: join(work, `${p.name}.log`),
    ...(p.profileDir ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${p.profileDir}`] } : {}),
    env: botEnv(cwd, port, model, {
      TELEGRAM_BOT_TOKEN: TOKEN,
      TELEGRAM_API_ROOT: fake.apiRoot,
      TELEGRAM_WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/webhook`,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      ...p.extraEnv,
    }),
  });
  try {
    await until(() => fake.calls.some((c) => c.method === 'setWebhook' && c.ok), bot, 60_000, `${p.name} to register its webhook (log: ${join(work, `${p.name}.log`)})`);
    // Warm up (JIT, connections, database pages) on other chats, then let their windows pass.
    await runClosedLoop(fake, { chats: Math.min(10, s.chats), turns: 3, turnTimeoutMs: 30_000, firstChatId: 900_000 });
    await new Promise((r) => setTimeout(r, 1100));
    const before = bot.usage();
    const fromUs = monotonicUs();
    const result = await runClosedLoop(fake, { chats: s.chats, turns: s.turns, turnTimeoutMs: 30_000, firstChatId: 1000 });
    const toUs = monotonicUs();
    const after: ProcessUsage | undefined = bot.usage();
    await bot.stop();
    const profile = p.profileDir ? mainThreadProfile(p.profileDir, root, fromUs, toUs) : undefined;
    return {
      result,
      ...cpuUsed(before, after),
      peakRssBytes: after?.peakRssBytes,
      window: { fromUs, toUs },
      profile,
    };
  } finally {
    await bot.stop();
    await fake.close();
  }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function describe(ph: Phase, into: Record<string, string | number>, label: string): void {
  const r = ph.result;
  const l = r.latencies;
  const turnsPerSec = r.ok / (r.wallMs / 1000);
  const callTotal = Object.values(r.calls).reduce((a, b) => a + b, 0);
  const perTurn = (n: number) => (r.ok ? n / r.ok : NaN).toFixed(2);
  const breakdown = Object.entries(r.calls).sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m} ${perTurn(n)}`).join(', ');
  into[`${label}: turns ok / issued`] = `${r.ok} / ${r.issued}${r.webhookFailures ? ` (${r.webhookFailures} webhook deliveries refused: ${r.refusals?.join('; ')})` : ''}`;
  into[`${label}: turns/s`] = turnsPerSec.toFixed(2);
  into[`${label}: latency p50 / p95 / p99 / max`] = [50, 95, 99, 100].map((p) => secs(percentile(l, p))).join(' / ');
  const later = r.turns.filter((t) => t.turn > 0 && t.latencyMs !== undefined).map((t) => t.latencyMs!);
  into[`${label}: latency after each chat's first turn p50 / p99 / max`] = [50, 99, 100].map((p) => secs(percentile(later, p))).join(' / ');
  const firstCall = r.turns.filter((t) => t.firstCallMs !== undefined).map((t) => t.firstCallMs!);
  into[`${label}: update delivered → bot's first call for it (typing or send) p50 / p99`] = [50, 99].map((p) => secs(percentile(firstCall, p))).join(' / ');
  into[`${label}: turns over 5 s`] = `${l.filter((v) => v > 5000).length} (${((100 * l.filter((v) => v > 5000).length) / Math.max(1, l.length)).toFixed(1)}%)`;
  into[`${label}: per-chat mean latency, fastest – slowest chat`] = `${secs(Math.min(...r.chatMeans))} – ${secs(Math.max(...r.chatMeans))}`;
  const carried = r.inWebhookAnswers ? `; ${perTurn(r.inWebhookAnswers)} of them carried in webhook answers` : '';
  into[`${label}: Bot API calls per turn`] = `${perTurn(callTotal)} (${breakdown}${carried})`;
  into[`${label}: 429s`] = r.tooManyRequests;
  into[`${label}: CPU per turn`] = cpuPerTurn(ph, r.ok, r.wallMs);
  into[`${label}: peak RSS`] = ph.peakRssBytes === undefined ? 'n/a' : `${(ph.peakRssBytes / 2 ** 20).toFixed(0)} MiB`;
}

export async function benchTelegramLoad(options: Record<string, string> = {}): Promise<Record<string, string | number>> {
  const s = settingsFrom(options);
  const work = mkdtempSync(join(tmpdir(), 'charbridge-tg-load-'));
  const keep = process.env.KEEP_BENCH_LOGS === '1';
  const model = await startFakeOpenAI({ chunkDelayMs: 5, responder: ({ messages }) => replyFor(tagIn(contentText(messages.at(-1)?.content)) ?? 'c0t0') });
  const out: Record<string, string | number> = {
    setup: `${s.chats} private chats × ${s.turns} turns, closed loop; model streams 40 chunks 5 ms apart; fake Bot API limits ${s.limits ? 'on (1/s per chat, 30/s per bot, 429 + retry_after)' : 'off'}; ${RUN_AS}${envNote(s.env)}`,
  };
  try {
    const profileDir = newProfileDir(s, 'telegram-load');
    if (profileDir) out['profile written to'] = profileDir;
    const floor = await runPhase({ name: 'floor', script: FLOOR_SCRIPT, extraEnv: {} }, s, model, work);
    const durable = await runPhase(
      { name: 'durable-floor', script: FLOOR_SCRIPT, extraEnv: { FLOOR_DATABASE: join(work, 'durable-floor', 'floor.db') } },
      s,
      model,
      work,
    );
    const cb = await runPhase(
      {
        name: 'charbridge',
        script: CHARBRIDGE_SCRIPT,
        extraEnv: charbridgeEnv(work, s.chats, s.env),
        profileDir,
      },
      s,
      model,
      work,
    );
    describe(floor, out, 'floor (bare bot)');
    describe(durable, out, 'durable floor (bare bot + SQLite claim, messages, completion)');
    describe(cb, out, 'charbridge');
    const f = floor.result;
    const c = cb.result;
    const rate = (r: LoadResult) => r.ok / (r.wallMs / 1000);
    out['charbridge / floor: turns/s'] = ratioText(rate(c), rate(f));
    out['charbridge / floor: latency p50, p95, p99'] = [50, 95, 99].map((p) => ratioText(percentile(c.latencies, p), percentile(f.latencies, p))).join(', ');
    out['charbridge / floor: CPU per turn'] = cpuRatio(cb, c.ok, floor, f.ok);
    out['charbridge / floor: peak RSS'] = ratioText(cb.peakRssBytes, floor.peakRssBytes);
    const d = durable.result;
    out['durable floor / floor: CPU per turn, peak RSS'] = `${cpuRatio(durable, d.ok, floor, f.ok)}, ${ratioText(durable.peakRssBytes, floor.peakRssBytes)}`;
    out['charbridge / durable floor: CPU per turn, peak RSS'] = `${cpuRatio(cb, c.ok, durable, d.ok)}, ${ratioText(cb.peakRssBytes, durable.peakRssBytes)}`;
    if (cb.profile) describeProfile(cb.profile, c.ok, out, 'charbridge profile');
    if (s.rounds > 1) {
      const round = async (dir: string): Promise<Round> => ({
        floor: await runPhase({ name: 'floor', script: FLOOR_SCRIPT, extraEnv: {} }, s, model, dir),
        charbridge: await runPhase({ name: 'charbridge', script: CHARBRIDGE_SCRIPT, extraEnv: charbridgeEnv(dir, s.chats, s.env) }, s, model, dir),
      });
      await moreRounds(s.rounds, work, { floor, charbridge: cb }, round, out);
    }
    if (keep) {
      writeFileSync(join(work, 'turns.json'), JSON.stringify({ floor: floor.result.turns, charbridge: cb.result.turns }));
      out['bot logs, database and every turn (turns.json)'] = work;
    }
  } finally {
    await model.close();
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
  return out;
}
