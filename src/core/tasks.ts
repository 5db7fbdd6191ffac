/**
 * Work a component started and must let finish before it stops: replies being delivered,
 * turns in flight, feed entries being written. Shutdown is "stop taking input, then drain
 * with a deadline", the same for the engine, the chat service and every adapter, so it lives
 * here once.
 *
 * @example
 * const tasks = new TaskTracker();
 * tasks.track(deliverReply(events));
 * await tasks.drain(10_000); // false when the deadline came first
 */
export class TaskTracker {
  private readonly running = new Set<Promise<void>>();

  /** Remember `task` until it settles; returns it unchanged, so callers can still await it. */
  track<T>(task: Promise<T>): Promise<T> {
    const settled = task.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return task;
  }

  /** How many tracked tasks have not settled yet. */
  get size(): number {
    return this.running.size;
  }

  /**
   * Wait until nothing is running — tasks tracked while waiting included — or until
   * `timeoutMs` passes. Resolves true when everything settled in time.
   */
  async drain(timeoutMs = Infinity): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline =
      timeoutMs === Infinity ? new Promise<false>(() => {}) : new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      while (this.running.size) {
        const all = Promise.allSettled([...this.running]).then(() => true as const);
        if (!(await Promise.race([all, deadline]))) return false;
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }
}
