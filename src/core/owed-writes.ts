import { StoreUnavailableError } from './errors.js';
import { retried } from './retry.js';

/**
 * Writes that close finished work (a message marked answered, a claim handed to the recovery
 * sweep, a turn's credits given back) and could not land within `retried`'s few seconds: the
 * database was down longer. Such a claim stays open under this live process, which no sweep takes
 * over, so without a later try it would wait for this process to stop; the next start would then
 * answer it again, or hold its credits until then. Each is kept here by key and tried again by
 * `settle`, which the heartbeat's sweep calls, until it lands. Every write must be safe to repeat.
 */
export class OwedWrites {
  private readonly owed = new Map<string, () => Promise<unknown>>();
  private settling: Promise<number> | undefined;

  /**
   * `write` tried a few times now (`retried`, `failed` told of the last failure); still failing, it
   * is owed under `key`. True when it landed now.
   */
  async land(key: string, write: () => Promise<unknown>, failed?: (err: unknown) => void): Promise<boolean> {
    if (await retried(write, failed)) return true;
    this.owe(key, write);
    return false;
  }

  /** Keep `write` to try again; a later write under the same key replaces it. */
  owe(key: string, write: () => Promise<unknown>): void {
    this.owed.set(key, write);
  }

  /**
   * Try every owed write once, in the order they were owed; those that land are forgotten.
   * Resolves with how many are still owed; one settling runs at a time.
   */
  settle(): Promise<number> {
    return (this.settling ??= this.tryAll().finally(() => (this.settling = undefined)));
  }

  private async tryAll(): Promise<number> {
    for (const [key, write] of [...this.owed]) {
      try {
        await write();
      } catch (err) {
        // Still down: the rest would wait and fail the same way; the next heartbeat tries again.
        // Any other failure is this write's own, and holds up none of the others.
        if (err instanceof StoreUnavailableError) return this.owed.size;
        continue;
      }
      if (this.owed.get(key) === write) this.owed.delete(key);
    }
    return this.owed.size;
  }
}
