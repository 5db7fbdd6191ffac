import { RateLimitedError } from '../core/errors.js';
import { ClosingCount } from './closing-count.js';
import type { RateLimits } from './limits.js';

/**
 * A failed turn costs no credit, yet its message is stored, so a key that could make every turn
 * fail (a prompt the provider's safety system refuses) could store without paying at its whole
 * request rate. Past `REFUSED_TURNS_PER_KEY_PER_HOUR` its turns are refused before anything is
 * stored, until the hour is over; only refusals its own input can cause count (`refusedByModel`
 * in `steps/limit.ts`), so no tenant is shut out by a provider outage. Counted per tenant key as
 * a `ClosingCount`: a turn asks only this process's list of closed keys.
 */
export class RefusedTurns extends ClosingCount {
  constructor(limits: RateLimits, perHour: number, now: () => number) {
    super(limits, 'refused:', perHour, now);
  }

  /** Refuse (429 `TOO_MANY_REFUSED_TURNS`) a turn of a key that is closed. */
  admit(keyId: string): void {
    const ms = this.closedFor(keyId);
    if (ms > 0) {
      throw new RateLimitedError(ms, `The model refused ${this.perHour} of this key's turns within the hour; its turns are refused until the hour is over`, 'TOO_MANY_REFUSED_TURNS');
    }
  }
}
