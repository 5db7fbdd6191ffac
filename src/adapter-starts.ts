import type { PlatformAdapter } from './core/adapter.js';
import type { Platform } from './core/types.js';
import type { Logger } from './log.js';

/**
 * The process's start, as the adapters go through it side by side: one platform's slow start
 * (Discord's shards take turns to identify, 5 s each, and watch their peers' sessions) never
 * holds back another's messages. What waits on it: a recovered reply waits for its own
 * platform's adapter (`of`), readiness for the whole start (`waiting`).
 */
export class AdapterStarts {
  private begun!: (starts: Map<PlatformAdapter, Promise<void>>) => void;
  private readonly starts = new Promise<Map<PlatformAdapter, Promise<void>>>((resolve) => (this.begun = resolve));
  private readonly pending = new Set<string>();
  private finished = false;

  /** Start every adapter; rejects with the first failure once all have settled. */
  async run(adapters: readonly PlatformAdapter[], log: Logger): Promise<void> {
    for (const a of adapters) this.pending.add(a.platform);
    const starts = new Map(
      adapters.map((a) => [
        a,
        a.start().then(() => {
          this.pending.delete(a.platform);
          log.info({ platform: a.platform }, 'adapter started');
        }),
      ]),
    );
    this.begun(starts);
    const failed = (await Promise.allSettled(starts.values())).find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Start-up failed before the adapters started: recovered replies then fail to send (logged)
   * rather than wait forever. No effect once `run` began.
   */
  abandon(): void {
    this.begun(new Map());
  }

  /** Settles once `platform`'s adapters have started (or failed to). */
  async of(adapters: readonly PlatformAdapter[], platform: Platform): Promise<void> {
    const starts = await this.starts;
    await Promise.allSettled(adapters.filter((a) => a.platform === platform).map((a) => starts.get(a)));
  }

  /** The rest of the process's start (webhooks, periodic jobs) is done too. */
  finish(): void {
    this.finished = true;
  }

  /** What the start still waits for, or undefined once the process has started. */
  waiting(): string | undefined {
    return this.finished ? undefined : [...this.pending].join(', ') || 'webhooks and periodic jobs';
  }
}
