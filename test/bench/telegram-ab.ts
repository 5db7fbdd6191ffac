/**
 * `npm run bench -- telegram-ab [--base REV] [--pairs 4] [--env KEY=VALUE,…] [--chats 50] [--turns 20] [--limits on|off]`
 *
 * Whether a change moves charbridge's CPU per turn. `telegram-load`'s run (the same fakes and
 * closed loop, see `runPhase`) measures two builds of charbridge in pairs: the base (a git
 * revision, default HEAD, built in a temporary worktree) and the working tree. On a shared
 * machine one run's CPU per turn moves by a quarter either way, more than most changes, and a
 * ratio to the floor bot carries both bots' noise; the two runs of a pair share most of the drift,
 * so the median of the pairs' ratios shows a change of a few percent. Which build runs first
 * alternates from pair to pair. `--env` sets variables for the working tree's runs only, so
 * `--base HEAD --env MEMORY_ENABLED=false` prices a setting; with nothing changed and no `--env`,
 * the spread of the ratios is the machine's noise.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentText, startFakeOpenAI } from '../fakes/openai.js';
import { root } from './bot-process.js';
import { charbridgeEnv, envOption, RUN_AS, type Phase } from './platform-load.js';
import { median } from './stats.js';
import { runPhase, settingsFrom } from './telegram-load.js';
import { replyFor, tagIn } from './telegram-load-driver.js';

interface AbSettings {
  base: string;
  pairs: number;
  env: Record<string, string>;
}

function abSettingsFrom(options: Record<string, string>): AbSettings {
  const pairs = options.pairs === undefined ? 4 : Number(options.pairs);
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > 20) throw new Error(`telegram-ab: --pairs must be a whole number from 1 to 20 (got ${options.pairs})`);
  return { base: options.base || 'HEAD', pairs, env: envOption('telegram-ab', options) };
}

/** The base revision built as `npm start` builds it, in a worktree of its own; returns its entry and how to remove it. */
function buildRevision(rev: string, dir: string): { script: string; remove: () => void } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  const commit = git('rev-parse', '--verify', `${rev}^{commit}`);
  git('worktree', 'add', '--detach', dir, commit);
  const remove = () => {
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      git('worktree', 'prune');
    }
  };
  try {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.build.json')], { cwd: dir, stdio: 'inherit' });
  } catch (err) {
    remove();
    throw err;
  }
  return { script: join(dir, 'dist', 'src', 'main.js'), remove };
}

const perTurn = (ph: Phase) => (ph.cpuMs === undefined ? NaN : ph.cpuMs / Math.max(1, ph.result.ok));
const mib = (ph: Phase) => (ph.peakRssBytes ?? NaN) / 2 ** 20;

export async function benchTelegramAb(options: Record<string, string> = {}): Promise<Record<string, string | number>> {
  const { base: baseOpt, pairs: pairsOpt, env: envOpt, ...loadOptions } = options;
  const ab = abSettingsFrom({ ...(baseOpt === undefined ? {} : { base: baseOpt }), ...(pairsOpt === undefined ? {} : { pairs: pairsOpt }), ...(envOpt === undefined ? {} : { env: envOpt }) });
  const s = settingsFrom(loadOptions);
  const work = mkdtempSync(join(tmpdir(), 'charbridge-tg-ab-'));
  const keep = process.env.KEEP_BENCH_LOGS === '1';
  const base = buildRevision(ab.base, join(work, 'base-tree'));
  const model = await startFakeOpenAI({ chunkDelayMs: 5, responder: ({ messages }) => replyFor(tagIn(contentText(messages.at(-1)?.content)) ?? 'c0t0') });
  const envText = Object.entries(ab.env).map(([k, v]) => `${k}=${v}`).join(', ');
  const out: Record<string, string | number> = {
    setup: `${s.chats} private chats × ${s.turns} turns, closed loop, fake Bot API limits ${s.limits ? 'on' : 'off'}; base ${ab.base} against the working tree${envText ? ` with ${envText}` : ''}, ${ab.pairs} pairs; ${RUN_AS}`,
  };
  try {
    const pairs: Array<{ base: Phase; change: Phase }> = [];
    for (let i = 1; i <= ab.pairs; i++) {
      // Each run on a fresh database of its own, as telegram-load's.
      const run = (which: 'base' | 'change') => {
        const dir = join(work, `pair-${i}-${which}`);
        const script = which === 'base' ? base.script : join(root, 'src', 'main.ts');
        return runPhase({ name: 'charbridge', script, extraEnv: { ...charbridgeEnv(dir, s.chats), ...(which === 'change' ? ab.env : {}) } }, s, model, dir);
      };
      // Alternate which runs first, so a drift of the machine within a pair favours neither.
      const first = i % 2 ? await run('base') : await run('change');
      const second = i % 2 ? await run('change') : await run('base');
      pairs.push(i % 2 ? { base: first, change: second } : { base: second, change: first });
    }
    const cpu = pairs.map((p) => perTurn(p.change) / perTurn(p.base));
    const rss = pairs.map((p) => mib(p.change) / mib(p.base));
    out['CPU per turn, each pair (change / base)'] = pairs.map((p, i) => `${perTurn(p.change).toFixed(2)} / ${perTurn(p.base).toFixed(2)} ms = ${cpu[i]!.toFixed(3)}`).join('; ');
    out['CPU per turn, change / base: median (min – max)'] = `${median(cpu).toFixed(3)} (${Math.min(...cpu).toFixed(3)} – ${Math.max(...cpu).toFixed(3)}); lower in ${cpu.filter((r) => r < 1).length} of ${cpu.length} pairs`;
    out['peak RSS, each pair (change / base)'] = pairs.map((p) => `${mib(p.change).toFixed(0)} / ${mib(p.base).toFixed(0)} MiB`).join('; ');
    out['peak RSS, change / base: median (min – max)'] = `${median(rss).toFixed(3)} (${Math.min(...rss).toFixed(3)} – ${Math.max(...rss).toFixed(3)})`;
    out['turns not delivered (base, change)'] = `${pairs.reduce((n, p) => n + p.base.result.issued - p.base.result.ok, 0)}, ${pairs.reduce((n, p) => n + p.change.result.issued - p.change.result.ok, 0)}`;
    if (keep) out['bot logs and databases'] = work;
  } finally {
    await model.close();
    base.remove();
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
  return out;
}
