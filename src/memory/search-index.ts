import { TaskTracker } from '../core/tasks.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';

/** Stored messages per indexing pass: big enough that a message costs a few µs to index, small enough to stay current. */
export const INDEX_EVERY = 64;

/**
 * Keeps recall's full-text index current without indexing inside each message's commit: every
 * stored message is counted, and each INDEX_EVERY of them start one background pass that indexes
 * whatever is pending (other processes' messages too). Recall never waits for it: a search
 * indexes what its range still lacks first (`RecallRepo.search`). On PostgreSQL a trigger keeps
 * the index and a pass does nothing.
 */
export class SearchIndexer {
  private readonly tasks = new TaskTracker();
  private stored = 0;
  private running = false;
  private stopped = false;

  constructor(
    private readonly store: Pick<Store, 'recall'>,
    private readonly log: Logger,
    private readonly every = INDEX_EVERY,
  ) {}

  /** A message was stored. */
  count(): void {
    if (++this.stored >= this.every) this.pass();
  }

  /** Index what is pending now, in the background (at start-up, for what earlier runs left). */
  pass(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.stored = 0;
    void this.tasks.track(
      this.store.recall
        .indexPending()
        .catch((err: unknown) => this.log.warn({ err }, 'could not index messages for recall; the next pass or search retries'))
        .finally(() => (this.running = false)),
    );
  }

  /** Resolves once no pass is running. */
  async idle(): Promise<void> {
    await this.tasks.drain();
  }

  /** Start no more passes; wait up to `timeoutMs` for a running one. */
  stop(timeoutMs = 5000): Promise<boolean> {
    this.stopped = true;
    return this.tasks.drain(timeoutMs);
  }
}
