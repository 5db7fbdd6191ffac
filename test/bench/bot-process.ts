/**
 * A bot under benchmark, run as its own Node process from built JavaScript — charbridge as
 * `npm start` runs it (`dist/src/main.js`), a floor bot transpiled the same way — so the CPU time
 * and memory measured are the bot's alone: not the load driver's or the fakes', and not a
 * TypeScript loader's (tsx keeps a transpiler and every module's source map in the process,
 * which weighs with the number of files, not with the bot's work).
 * CPU and peak RSS are read from /proc (Linux), which works for any process without its
 * cooperation; elsewhere they are reported as unknown.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const built = new Map<string, string>();

/**
 * The JavaScript to run for a TypeScript entry, built once per bench run: `src/main.ts` through
 * the project's build (`tsc -p tsconfig.build.json`, into `dist/` as `npm start` does); any other
 * script (a floor bot, one file) transpiled by esbuild into `dist/bench/`, where its imports
 * resolve from the project's node_modules. A `.js` path is already built and runs as it is.
 */
export function runnable(script: string): string {
  if (script.endsWith('.js')) return script;
  const hit = built.get(script);
  if (hit) return hit;
  let out: string;
  if (resolve(script) === join(root, 'src', 'main.ts')) {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
    out = join(root, 'dist', 'src', 'main.js');
  } else {
    out = join(root, 'dist', 'bench', basename(script).replace(/\.ts$/, '.mjs'));
    mkdirSync(dirname(out), { recursive: true });
    const { code } = transformSync(readFileSync(script, 'utf8'), { loader: 'ts', format: 'esm', platform: 'node', target: 'node20', sourcefile: relative(root, script) });
    writeFileSync(out, code);
  }
  built.set(script, out);
  return out;
}

export interface BotProcessOptions {
  /** Absolute path of the TypeScript entry (run as built JavaScript, see `runnable`). */
  script: string;
  /** The whole environment of the child (nothing is inherited, so a developer's settings cannot leak in). */
  env: Record<string, string>;
  cwd: string;
  /** stdout and stderr go here. */
  logFile: string;
  /** Extra Node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/x']. */
  nodeFlags?: string[];
}

export interface ProcessUsage {
  /** User + system CPU time since the process started, ms. */
  cpuMs: number;
  /**
   * Of it, the main thread's (the event loop: the bot's own JavaScript); the rest is V8's and
   * libuv's helper threads (optimizing compiler, concurrent GC, thread pool).
   */
  mainThreadCpuMs: number;
  /** Peak resident set size so far (VmHWM), bytes. */
  peakRssBytes: number;
}

export interface BotProcess {
  readonly pid: number;
  /** undefined where /proc is not available. */
  usage(): ProcessUsage | undefined;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** SIGTERM (a graceful shutdown, which also writes a --cpu-prof profile); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function readUsage(pid: number): ProcessUsage | undefined {
  try {
    const cpuMsOf = (statFile: string) => {
      const stat = readFileSync(statFile, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks; // utime + stime (fields 14 and 15)
    };
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    // The main thread's id is the process id.
    return { cpuMs: cpuMsOf(`/proc/${pid}/stat`), mainThreadCpuMs: cpuMsOf(`/proc/${pid}/task/${pid}/stat`), peakRssBytes: Number(hwm?.[1] ?? 0) * 1024 };
  } catch {
    return undefined;
  }
}

export function startBotProcess(o: BotProcessOptions): BotProcess {
  const child: ChildProcess = spawn(process.execPath, [...(o.nodeFlags ?? []), runnable(o.script)], {
    cwd: o.cwd,
    env: o.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(o.logFile);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      log.end();
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${o.script}`);
  return {
    pid,
    exited,
    usage: () => readUsage(pid),
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
