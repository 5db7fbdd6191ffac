import type { AdapterStatus } from '../core/adapter.js';
import type { Store } from '../store/index.js';
import { within } from '../core/timeout.js';

/** One part readiness depends on: the database, its migrations, or a platform adapter. */
export interface ReadinessCheck {
  name: string;
  ready: boolean;
  /** Why it is not ready, in words an operator can act on; absent when ready. */
  reason?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: ReadinessCheck[];
}

/** How long one check may take before it counts as not answering. */
const CHECK_TIMEOUT_MS = 2000;

/**
 * Whether this process can do its work: the database answers, every migration has run, every
 * configured platform adapter is connected (polling, webhook set, gateway or socket open), and a
 * running process has finished starting. Load balancers and orchestrators route to the process
 * only then; `/health` only says it is alive.
 */
export class Readiness {
  constructor(
    private readonly store: Pick<Store, 'pendingMigrations'>,
    private readonly adapters: () => readonly Pick<AdapterStatus, 'platform' | 'connected' | 'mode' | 'lastError'>[] = () => [],
    /** Present when instances coordinate through Redis: whether it answers. */
    private readonly redis?: () => Promise<boolean>,
    /**
     * Present in a running process: what its start still waits for (the adapters whose start has
     * not finished), or undefined once started. A platform can be connected while its start still
     * works (Discord replays its peers' sessions before its live messages), and the process sends
     * webhooks and proactive messages only once every adapter has started.
     */
    private readonly starting?: () => string | undefined,
  ) {}

  async check(): Promise<ReadinessReport> {
    const checks = [...(await this.database()), ...(await this.coordination()), ...this.platforms(), ...this.start()];
    return { ready: checks.every((c) => c.ready), checks };
  }

  private async database(): Promise<ReadinessCheck[]> {
    let pending: string[];
    try {
      pending = await withTimeout(this.store.pendingMigrations(), CHECK_TIMEOUT_MS);
    } catch (err) {
      const why = err instanceof TimeoutError ? `did not answer within ${CHECK_TIMEOUT_MS} ms` : 'does not answer';
      return [
        { name: 'database', ready: false, reason: `the database ${why}` },
        { name: 'migrations', ready: false, reason: 'unknown while the database does not answer' },
      ];
    }
    return [
      { name: 'database', ready: true },
      pending.length ? { name: 'migrations', ready: false, reason: `not run yet: ${pending.join(', ')}` } : { name: 'migrations', ready: true },
    ];
  }

  private async coordination(): Promise<ReadinessCheck[]> {
    if (!this.redis) return [];
    const ok = await withTimeout(this.redis(), CHECK_TIMEOUT_MS).catch(() => false);
    return [ok ? { name: 'redis', ready: true } : { name: 'redis', ready: false, reason: 'Redis (REDIS_URL) does not answer' }];
  }

  private platforms(): ReadinessCheck[] {
    return this.adapters().map((s) =>
      s.connected
        ? { name: s.platform, ready: true }
        : { name: s.platform, ready: false, reason: `not connected (${s.mode})${s.lastError ? `; last error at ${s.lastError.at}` : ''}` },
    );
  }

  private start(): ReadinessCheck[] {
    if (!this.starting) return [];
    const waiting = this.starting();
    return [waiting === undefined ? { name: 'start', ready: true } : { name: 'start', ready: false, reason: `still starting: ${waiting}` }];
  }
}

class TimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return within(p, ms, (): never => {
    throw new TimeoutError();
  });
}
