import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Runs tasks one at a time per key, in the order they were enqueued, and keeps no state for
 * idle keys. Enqueueing is synchronous, so arrival order is the order of `run` calls. The engine
 * serializes turns per chat with it; adapters keep a chat's events in order with it.
 *
 * Re-entrant: a task that, while running, asks for its own key again (a command in a chat that
 * starts another turn in that chat, e.g. a proactive test send) runs at once instead of waiting
 * behind itself forever.
 */
export class KeyedSerialQueue {
  private tails = new Map<string, Promise<void>>();
  private readonly held = new AsyncLocalStorage<ReadonlySet<string>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const holding = this.held.getStore();
    if (holding?.has(key)) return task();
    const prev = this.tails.get(key) ?? Promise.resolve();
    const inside = new Set(holding ?? []).add(key);
    const result = prev.then(() => this.held.run(inside, task));
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  get activeKeys(): number {
    return this.tails.size;
  }
}
