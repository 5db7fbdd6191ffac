/**
 * Virtual time for budget tests: `sleep` parks a timer, and `run` advances the clock to the
 * earliest timer whenever the code under test has nothing else to do — minutes of pacing run in
 * milliseconds, and start times are exact.
 */
export class VirtualTime {
  t = 0;
  private timers: Array<{ at: number; resolve: () => void }> = [];
  readonly now = (): number => this.t;
  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.timers.push({ at: this.t + Math.max(0, ms), resolve });
    });

  /** Let microtasks and I/O callbacks settle. */
  private static settle(): Promise<void> {
    return new Promise((r) => setImmediate(r));
  }

  /** Advance through timers until `done` settles; returns its value. */
  async run<T>(done: Promise<T>): Promise<T> {
    let settled = false;
    const watched = done.finally(() => (settled = true));
    watched.catch(() => undefined);
    for (let i = 0; i < 100_000; i++) {
      await VirtualTime.settle();
      if (settled) return watched;
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift();
      if (!next) {
        await VirtualTime.settle();
        if (settled) return watched;
        throw new Error('VirtualTime: nothing scheduled and the promise is still pending');
      }
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    throw new Error('VirtualTime: too many steps');
  }
}
