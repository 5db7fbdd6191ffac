/**
 * Runs tasks one at a time per key, in the order they were enqueued, and keeps no state for
 * idle keys. Enqueueing is synchronous, so arrival order is the order of `run` calls. The engine
 * serializes turns per chat with it; adapters keep a chat's events in order with it.
 *
 * Not re-entrant: a task that asks for its own key again would wait behind itself. A caller that
 * already runs inside a key's line says so explicitly (the engine's `inLine`), instead of the
 * queue finding out through AsyncLocalStorage — whose promise hooks, once on, tax every promise
 * the process creates.
 */
export class KeyedSerialQueue {
  private tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
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
