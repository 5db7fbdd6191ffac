/**
 * Runs tasks one at a time per key, in the order they were enqueued, and keeps no state for
 * idle keys. Enqueueing is synchronous, so arrival order is the order of `run` calls. The engine
 * serializes turns per conversation with it; adapters keep a chat's events in order with it.
 */
export class KeyedSerialQueue {
  private tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task);
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
