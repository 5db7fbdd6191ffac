/**
 * What the platform load benchmarks (`discord-load`, `slack-load`) share with `telegram-load`:
 * a closed loop over a platform fake (each chat sends its next message once the reply to the
 * previous one is visible), a phase that runs one bot as its own process (so CPU and peak RSS
 * are the bot's alone) against a fresh fake, and the report with ratios to the floor bot.
 * A platform plugs in through `LoadWorld`: how a user says something in chat `i`, and the
 * outbound calls the fake saw.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describeProfile, mainThreadProfile } from './cpu-profile.js';
import { contentText, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { replyFor, tagIn } from './telegram-load-driver.js';
import { median, percentile } from './stats.js';
import type { BotProcess, ProcessUsage } from './bot-process.js';
import type { LoadResult } from './telegram-load-driver.js';

/** One outbound API call the fake answered (refused ones included). */
export interface SeenCall {
  /** The chat index the call was for, when it was for one of the load's chats. */
  chat: number | undefined;
  method: string;
  /** The text the call made visible (a post or an edit), if any. */
  text: string | undefined;
  ok: boolean;
}

export interface LoadWorld {
  /** A user says `text` in chat `chat` (0-based); false when the platform could not deliver it. */
  say(chat: number, text: string): Promise<boolean>;
  /** Calls the fake answers from now on, as they happen; returns the unsubscribe. */
  onCall(listener: (call: SeenCall) => void): () => void;
  /** 429s answered so far. */
  tooManyRequests(): number;
}

export interface ClosedLoopOptions {
  chats: number;
  turns: number;
  turnTimeoutMs: number;
  /** Turn tags are `c<firstChat + i>t<turn>`; warm-up and measured chats use different ranges. */
  firstChat: number;
}

/** The closed loop over `world`; a reply has landed when a visible text contains `expected(tag)`. */
export async function closedLoop(world: LoadWorld, o: ClosedLoopOptions, expected: (tag: string) => string): Promise<LoadResult> {
  const waiting = new Map<number, { expected: string; landed: () => void; firstCallAt?: number }>();
  const calls: Record<string, number> = {};
  const unsubscribe = world.onCall((c) => {
    calls[c.method] = (calls[c.method] ?? 0) + 1;
    const w = c.chat === undefined ? undefined : waiting.get(c.chat);
    if (!w) return;
    w.firstCallAt ??= performance.now();
    if (c.ok && c.text?.includes(w.expected)) {
      waiting.delete(c.chat!);
      w.landed();
    }
  });
  const result: LoadResult = { issued: 0, ok: 0, latencies: [], turns: [], chatMeans: [], wallMs: 0, calls, inWebhookAnswers: 0, tooManyRequests: 0, webhookFailures: 0 };
  const refusedBefore = world.tooManyRequests();
  const t0 = performance.now();
  const oneTurn = async (chat: number, tag: string) => {
    let timer: NodeJS.Timeout | undefined;
    const w: { expected: string; landed: () => void; firstCallAt?: number } = { expected: expected(tag), landed: () => undefined };
    const landed = new Promise<boolean>((resolve) => {
      w.landed = () => resolve(true);
      waiting.set(chat, w);
      timer = setTimeout(() => resolve(false), o.turnTimeoutMs);
    });
    const start = performance.now();
    result.issued++;
    if (!(await world.say(chat, `hello ${tag}`).catch(() => false))) {
      result.webhookFailures++;
      waiting.delete(chat);
      clearTimeout(timer);
      return { ms: undefined, firstCallMs: undefined };
    }
    const ok = await landed;
    clearTimeout(timer);
    waiting.delete(chat);
    return { ms: ok ? performance.now() - start : undefined, firstCallMs: w.firstCallAt === undefined ? undefined : w.firstCallAt - start };
  };
  await Promise.all(
    Array.from({ length: o.chats }, async (_, i) => {
      const chat = o.firstChat + i;
      const mine: number[] = [];
      for (let t = 0; t < o.turns; t++) {
        const startMs = performance.now() - t0;
        const { ms, firstCallMs } = await oneTurn(chat, `c${chat}t${t}`);
        result.turns.push({ chat, turn: t, startMs, latencyMs: ms, firstCallMs });
        if (ms !== undefined) mine.push(ms);
      }
      result.latencies.push(...mine);
      if (mine.length) result.chatMeans.push(mine.reduce((a, b) => a + b, 0) / mine.length);
    }),
  );
  result.wallMs = performance.now() - t0;
  result.ok = result.latencies.length;
  result.tooManyRequests = world.tooManyRequests() - refusedBefore;
  unsubscribe();
  return result;
}

export interface Phase extends CpuUse {
  result: LoadResult;
  peakRssBytes: number | undefined;
  /** When the measured load ran, on the monotonic clock (µs), which `--cpu-prof` profiles use too. */
  window: { fromUs: number; toUs: number };
}

/** CPU a bot used during the load, ms: the whole process, and its main thread alone. */
export interface CpuUse {
  cpuMs: number | undefined;
  mainCpuMs: number | undefined;
}

export function cpuUsed(before: ProcessUsage | undefined, after: ProcessUsage | undefined): CpuUse {
  return before && after ? { cpuMs: after.cpuMs - before.cpuMs, mainCpuMs: after.mainThreadCpuMs - before.mainThreadCpuMs } : { cpuMs: undefined, mainCpuMs: undefined };
}

/** "9.52 ms (main thread 7.10 ms; 9520 ms in 33.50 s)" for `turns` turns in `wallMs`. */
export function cpuPerTurn(use: CpuUse, turns: number, wallMs: number): string {
  if (use.cpuMs === undefined) return 'n/a';
  const per = (ms: number) => `${(ms / Math.max(1, turns)).toFixed(2)} ms`;
  return `${per(use.cpuMs)} (main thread ${use.mainCpuMs === undefined ? 'n/a' : per(use.mainCpuMs)}; ${Math.round(use.cpuMs)} ms in ${(wallMs / 1000).toFixed(2)} s)`;
}

/** Per-turn CPU of `a` over `b`, the whole process and the main thread: "2.31× (main thread 2.05×)". */
export function cpuRatio(a: CpuUse, aTurns: number, b: CpuUse, bTurns: number): string {
  const per = (ms: number | undefined, turns: number) => (ms === undefined ? undefined : ms / Math.max(1, turns));
  return `${ratioText(per(a.cpuMs, aTurns), per(b.cpuMs, bTurns))} (main thread ${ratioText(per(a.mainCpuMs, aTurns), per(b.mainCpuMs, bTurns))})`;
}

/**
 * Measure one running bot: warm it up on chats of their own (JIT, connections, database pages),
 * let their rate windows pass, then run the load and read the process's CPU and peak RSS.
 */
export async function measure(bot: BotProcess, world: LoadWorld, o: Omit<ClosedLoopOptions, 'firstChat'>, expected: (tag: string) => string, settleMs: number): Promise<Phase> {
  await closedLoop(world, { chats: Math.min(5, o.chats), turns: 3, turnTimeoutMs: 30_000, firstChat: 10_000 }, expected);
  await new Promise((r) => setTimeout(r, settleMs));
  const before = bot.usage();
  const fromUs = monotonicUs();
  const result = await closedLoop(world, { ...o, firstChat: 0 }, expected);
  const toUs = monotonicUs();
  const after: ProcessUsage | undefined = bot.usage();
  return { result, ...cpuUsed(before, after), peakRssBytes: after?.peakRssBytes, window: { fromUs, toUs } };
}

/** The monotonic clock in µs, the one `--cpu-prof` profiles are stamped with. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Wait for `cond`, failing early (with `what`) when the bot process exits. */
export async function until(cond: () => boolean, bot: BotProcess, ms: number, what: string): Promise<void> {
  let gone: number | string | undefined;
  void bot.exited.then((code) => (gone = code));
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (gone !== undefined) throw new Error(`the bot exited (${gone}) while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
/** "1.42×": `a` over `b`, or n/a when either is unknown. */
export const ratioText = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}×`);

/** One phase's figures, labelled, in the same words as telegram-load's. */
export function describePhase(ph: Phase, into: Record<string, string | number>, label: string): void {
  const r = ph.result;
  const l = r.latencies;
  const callTotal = Object.values(r.calls).reduce((a, b) => a + b, 0);
  const perTurn = (n: number) => (r.ok ? n / r.ok : NaN).toFixed(2);
  const breakdown = Object.entries(r.calls).sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m} ${perTurn(n)}`).join(', ');
  into[`${label}: turns ok / issued`] = `${r.ok} / ${r.issued}${r.webhookFailures ? ` (${r.webhookFailures} deliveries refused)` : ''}`;
  into[`${label}: turns/s`] = (r.ok / (r.wallMs / 1000)).toFixed(2);
  into[`${label}: latency p50 / p95 / p99 / max`] = [50, 95, 99, 100].map((p) => secs(percentile(l, p))).join(' / ');
  into[`${label}: turns over 5 s`] = `${l.filter((v) => v > 5000).length}`;
  into[`${label}: per-chat mean latency, fastest – slowest chat`] = r.chatMeans.length ? `${secs(Math.min(...r.chatMeans))} – ${secs(Math.max(...r.chatMeans))}` : 'n/a';
  into[`${label}: API calls per turn`] = `${perTurn(callTotal)} (${breakdown})`;
  into[`${label}: 429s`] = r.tooManyRequests;
  into[`${label}: CPU per turn`] = cpuPerTurn(ph, r.ok, r.wallMs);
  into[`${label}: peak RSS`] = ph.peakRssBytes === undefined ? 'n/a' : `${(ph.peakRssBytes / 2 ** 20).toFixed(0)} MiB`;
}

/** The bot against the floor, as ratios. */
export function compare(bot: Phase, floor: Phase, into: Record<string, string | number>, label: string): void {
  const c = bot.result;
  const f = floor.result;
  const rate = (r: LoadResult) => r.ok / (r.wallMs / 1000);
  into[`${label} / floor: turns/s`] = ratioText(rate(c), rate(f));
  into[`${label} / floor: latency p50, p95, p99`] = [50, 95, 99].map((p) => ratioText(percentile(c.latencies, p), percentile(f.latencies, p))).join(', ');
  into[`${label} / floor: CPU per turn`] = cpuRatio(bot, c.ok, floor, f.ok);
  into[`${label} / floor: peak RSS`] = ratioText(bot.peakRssBytes, floor.peakRssBytes);
}

/** Settings every platform load benchmark takes: --chats, --turns, --limits on|off, --rounds N, --profile DIR, --env KEY=VALUE,…. */
export function loadSettings(name: string, options: Record<string, string>, defaults: { chats: number; turns: number }): LoadSettings {
  const known = new Set(['chats', 'turns', 'limits', 'rounds', 'profile', 'env']);
  for (const k of Object.keys(options)) if (!known.has(k)) throw new Error(`${name}: unknown option --${k} (known: --chats, --turns, --limits on|off, --rounds N, --profile DIR, --env KEY=VALUE,…)`);
  const count = (key: 'chats' | 'turns') => {
    const v = options[key] === undefined ? defaults[key] : Number(options[key]);
    if (!Number.isInteger(v) || v < 1 || v > 10_000) throw new Error(`${name}: --${key} must be a whole number from 1 to 10000 (got ${options[key]})`);
    return v;
  };
  const limits = options.limits ?? 'on';
  if (limits !== 'on' && limits !== 'off') throw new Error(`${name}: --limits must be on or off (got ${limits})`);
  return { chats: count('chats'), turns: count('turns'), limits: limits === 'on', rounds: roundsOption(name, options), profileDir: options.profile ? resolve(options.profile) : undefined, env: envOption(name, options) };
}

export interface LoadSettings {
  chats: number;
  turns: number;
  limits: boolean;
  /** How many times the floor bot and charbridge are measured (see `moreRounds`). */
  rounds: number;
  /** Variables for charbridge's runs only (`--env`), e.g. MEMORY_ENABLED=false to price a feature against the floor. */
  env: Record<string, string>;
  /** `--profile DIR`: charbridge's first round runs under `node --cpu-prof`, and where its CPU went is printed. */
  profileDir: string | undefined;
}

/** With `--profile DIR`: a new directory in it for this run's `node --cpu-prof` output. */
export function newProfileDir(s: LoadSettings, bench: string): string | undefined {
  if (!s.profileDir) return undefined;
  const dir = join(s.profileDir, `${bench}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `--rounds N`, 1 to 20, 1 unless given. */
export function roundsOption(name: string, options: Record<string, string>): number {
  const v = options.rounds === undefined ? 1 : Number(options.rounds);
  if (!Number.isInteger(v) || v < 1 || v > 20) throw new Error(`${name}: --rounds must be a whole number from 1 to 20 (got ${options.rounds})`);
  return v;
}

/**
 * `--env KEY=VALUE,…`: variables set for charbridge's runs only (the floor bot never reads
 * charbridge's settings), after the bench's own, so a setting can be priced against the floor.
 */
export function envOption(name: string, options: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of (options.env ?? '').split(',').filter(Boolean)) {
    const at = item.indexOf('=');
    if (at < 1) throw new Error(`${name}: --env takes KEY=VALUE pairs separated by commas (got ${item})`);
    env[item.slice(0, at)] = item.slice(at + 1);
  }
  return env;
}

/** What `--env` changed, for a benchmark's setup line ('' when nothing). */
export function envNote(env: Record<string, string>): string {
  const items = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return items.length ? `; charbridge with ${items.join(', ')}` : '';
}

/** One round of a load bench: the floor bot's phase and charbridge's. */
export interface Round {
  floor: Phase;
  charbridge: Phase;
}

/**
 * `--rounds N`: after the round already described, N − 1 more, each a fresh floor bot and then a
 * fresh charbridge on a fresh database (`measure(dir)` runs one round in `dir`); reports each
 * ratio's median and range and every round's figures. On a shared machine one run's CPU ratio
 * moves by a quarter either way, so a single round cannot show a change of a few percent.
 */
export async function moreRounds(rounds: number, work: string, first: Round, measure: (dir: string) => Promise<Round>, out: Record<string, string | number>): Promise<void> {
  const all = [first];
  for (let i = 2; i <= rounds; i++) all.push(await measure(join(work, `round-${i}`)));
  const summary = (label: string, of: (ph: Phase) => number | undefined, unit: (v: number) => string) => {
    const ratios: number[] = [];
    const each = all.map(({ floor, charbridge }) => {
      const f = of(floor);
      const c = of(charbridge);
      if (f === undefined || c === undefined || f === 0) return 'n/a';
      ratios.push(c / f);
      return `${unit(c)} / ${unit(f)}`;
    });
    const range = ratios.length ? `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}× – ${Math.max(...ratios).toFixed(2)}×)` : 'n/a';
    out[`charbridge / floor over ${all.length} rounds: ${label}, median (min – max)`] = range;
    out[`charbridge / floor over ${all.length} rounds: ${label}, each round`] = each.join('; ');
  };
  summary('CPU per turn', (ph) => (ph.cpuMs === undefined ? undefined : ph.cpuMs / Math.max(1, ph.result.ok)), (v) => `${v.toFixed(2)} ms`);
  summary('peak RSS', (ph) => ph.peakRssBytes, (v) => `${(v / 2 ** 20).toFixed(0)} MiB`);
  const lost = all.reduce((n, r) => n + (r.charbridge.result.issued - r.charbridge.result.ok), 0);
  const refused = all.reduce((n, r) => n + r.charbridge.result.tooManyRequests, 0);
  out[`charbridge over ${all.length} rounds: turns not delivered, 429s`] = `${lost}, ${refused}`;
}

/** How the load benches run their bots, for each bench's `setup` line. */
export const RUN_AS = 'bots run as separate processes from built JavaScript (charbridge as npm start runs it)';

/**
 * A bot process's whole environment: nothing inherited but PATH and HOME (a developer's settings
 * must not leak in), its port, the fake model, and the platform's own variables.
 */
export function botEnv(cwd: string, port: number, model: FakeOpenAI, platform: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? cwd,
    PORT: String(port),
    HOST: '127.0.0.1',
    OPENAI_BASE_URL: model.baseURL,
    OPENAI_API_KEY: model.apiKey,
    OPENAI_MODEL: 'fake-model',
    ...platform,
  };
}

/** What charbridge gets beyond `botEnv`: its own database, limits that are not what is measured, then `extra` (`--env`). */
export function charbridgeEnv(work: string, chats: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: join(work, 'charbridge', 'charbridge.db'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    // The model and the engine's per-user limits must not be what is measured here.
    MODEL_CONCURRENCY: String(Math.min(1000, Math.max(8, chats))),
    RATE_LIMIT_USER_PER_MIN: '100000',
    RATE_LIMIT_GROUP_PER_MIN: '100000',
    ...extra,
  };
}

/** One bot's phase; `nodeFlags` go to its `node` (e.g. `--cpu-prof`). */
export type RunPhase = (name: string, script: string, extraEnv: Record<string, string>, s: { chats: number; turns: number; limits: boolean }, model: FakeOpenAI, work: string, nodeFlags?: string[]) => Promise<Phase>;

/**
 * A platform's load bench: its floor bot, then charbridge (`src/main.ts`, configured by
 * environment only), each through `runPhase`, reported side by side with their ratios.
 */
export async function floorAgainstCharbridge(
  name: string,
  s: LoadSettings,
  floorScript: string,
  root: string,
  setup: string,
  runPhase: RunPhase,
): Promise<Record<string, string | number>> {
  const work = mkdtempSync(join(tmpdir(), `charbridge-${name}-`));
  const keep = process.env.KEEP_BENCH_LOGS === '1';
  const model = await startFakeOpenAI({ chunkDelayMs: 5, responder: ({ messages }) => replyFor(tagIn(contentText(messages.at(-1)?.content)) ?? 'c0t0') });
  const out: Record<string, string | number> = { setup: setup + envNote(s.env) };
  try {
    const profileDir = newProfileDir(s, name);
    const round = async (dir: string, nodeFlags: string[] = []): Promise<Round> => ({
      floor: await runPhase('floor', join(root, floorScript), {}, s, model, dir),
      charbridge: await runPhase('charbridge', join(root, 'src/main.ts'), charbridgeEnv(dir, s.chats, s.env), s, model, dir, nodeFlags),
    });
    const first = await round(work, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
    describePhase(first.floor, out, 'floor (bare bot)');
    describePhase(first.charbridge, out, 'charbridge');
    compare(first.charbridge, first.floor, out, 'charbridge');
    if (profileDir) {
      out['profile written to'] = profileDir;
      // The profile is written as the process exits, which its phase waited for.
      const { fromUs, toUs } = first.charbridge.window;
      const profile = mainThreadProfile(profileDir, root, fromUs, toUs);
      if (profile) describeProfile(profile, first.charbridge.result.ok, out, 'charbridge profile');
    }
    if (s.rounds > 1) await moreRounds(s.rounds, work, first, round, out);
    if (keep) out['bot logs and database'] = work;
  } finally {
    await model.close();
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
  return out;
}
