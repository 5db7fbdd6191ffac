import { LRUCache } from 'lru-cache';
import { RateLimitedError } from '../core/errors.js';
import type { RateLimits } from './limits.js';

const HOUR_SECONDS = 3600;

/**
 * A failed turn costs no credit, yet its message is stored, so a key that could make every turn
 * fail (a prompt the provider's safety system refuses) could store without paying at its whole
 * request rate. Past `REFUSED_TURNS_PER_KEY_PER_HOUR` its turns are refused before anything is
 * stored, until the hour is over; only refusals its own input can cause count (`refusedByModel`
 * in `steps/limit.ts`), so no tenant is shut out by a provider outage.
 *
 * Each tenant key's turns the model refused for what they held, counted per fixed hour from the
 * first (shared by the instances with Redis), and, in this process, the keys whose count is used
 * up, until their hour is over. A turn asks only this process's list, so a turn costs no round
 * trip to the count: an instance learns a key is closed from its own next refusal of that key, so
 * each instance lets at most one more refused turn through (and those already in flight).
 */
export class RefusedTurns {
  /** Key id → when its turns are let in again (the engine's clock). */
  readonly #closed = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly limits: RateLimits,
    readonly perHour: number,
    private readonly now: () => number,
  ) {}

  /** Milliseconds until `keyId`'s turns are let in again; 0 when they are now. */
  closedFor(keyId: string): number {
    const until = this.#closed.get(keyId);
    if (until === undefined) return 0;
    const ms = until - this.now();
    if (ms > 0) return ms;
    this.#closed.delete(keyId);
    return 0;
  }

  /** Refuse (429 `TOO_MANY_REFUSED_TURNS`) a turn of a key that is closed. */
  admit(keyId: string): void {
    const ms = this.closedFor(keyId);
    if (ms > 0) {
      throw new RateLimitedError(ms, `The model refused ${this.perHour} of this key's turns within the hour; its turns are refused until the hour is over`, 'TOO_MANY_REFUSED_TURNS');
    }
  }

  /** Count one refused turn of `keyId`; the one that uses the hour's count up closes the key. */
  async count(keyId: string): Promise<void> {
    const r = await this.limits.spend(`refused:${keyId}`, this.perHour, HOUR_SECONDS);
    if (r.left <= 0) this.#closed.set(keyId, this.now() + Math.max(1, r.resetMs));
  }
}
