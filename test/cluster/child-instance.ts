/**
 * A charbridge instance in a process of its own (`node --import tsx src/main.ts`, configured by
 * environment only), so a test can kill it with SIGKILL: nothing in it gets to clean up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildInstance {
  url: string;
  /** What the process wrote, for a failing test's message. */
  output(): string;
  kill(): Promise<void>;
  /** SIGTERM, and whether it exited within `ms` (then SIGKILL). */
  terminate(ms: number): Promise<boolean>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** An instance launched but not yet known to be ready (see `launchInstance`). */
export interface LaunchedInstance extends ChildInstance {
  process: ChildProcess;
  /** Resolves when the process has exited. Its last output may not have been read yet: see `closed`. */
  exited: Promise<void>;
  /** Resolves once the process has exited and its stdout and stderr have ended: `output()` is then whole. */
  closed: Promise<void>;
}

/**
 * Start `src/main.ts` with `env` on a free port (or on `env.PORT`, when a caller must know it in
 * advance) and return at once, while it starts. `entry`: run this built JavaScript instead, as
 * `npm start` does (no compiling at start or on a module's first import).
 */
export async function launchInstance(env: Record<string, string>, entry?: string, opts: { prefix?: string[] } = {}): Promise<LaunchedInstance> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  // `prefix` runs node under another command (setpriv, to take a privilege away).
  const [command, ...args] = [...(opts.prefix ?? []), process.execPath, ...(entry ? [entry] : ['--import', 'tsx', 'src/main.ts'])];
  const child: ChildProcess = spawn(command!, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', LOG_FORMAT: 'json', LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Node emits 'exit' without waiting for the stdio pipes to be read to their end; 'close' comes after both.
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  return {
    process: child,
    exited,
    closed,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    terminate: async (ms: number) => {
      if (child.exitCode !== null || child.signalCode !== null) return true;
      child.kill('SIGTERM');
      const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
      if (!inTime) child.kill('SIGKILL');
      await exited;
      return inTime;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * `launchInstance`, then wait until /ready (up to `timeoutMs`; tsx compiles on start, which takes
 * seconds).
 */
export async function startChildInstance(env: Record<string, string>, timeoutMs = 60_000, entry?: string): Promise<ChildInstance> {
  const instance = await launchInstance(env, entry);
  const child = instance.process;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the instance exited (${child.exitCode}) before it was ready:\n${instance.output()}`);
    const ok = await fetch(`${instance.url}/ready`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the instance was not ready within ${timeoutMs} ms:\n${instance.output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return instance;
}
