import { StoreUnavailableError } from '../../src/core/errors.js';

/** A connection PostgreSQL dropped under a statement, as the store reports it. */
export const dropped = () => new StoreUnavailableError('The database cannot be reached (Connection terminated unexpectedly); try again shortly');

/**
 * `target[method]` fails once (again after `rearm`) as a dropped connection fails it: before its
 * statement reached the server, or after it committed (`landed`); `only` picks the calls that may
 * drop. `calls` counts every call, `hasDropped` says whether the drop came.
 */
export function dropOnce<T extends object, K extends keyof T>(target: T, method: K, opts: { landed?: boolean; only?: (...args: any[]) => boolean } = {}) {
  const real = (target[method] as unknown as (...args: unknown[]) => Promise<unknown>).bind(target);
  let left = 1;
  let calls = 0;
  (target as Record<K, unknown>)[method] = async (...args: unknown[]) => {
    calls++;
    const drops = left > 0 && (opts.only?.(...args) ?? true);
    if (drops) left--;
    if (drops && !opts.landed) throw dropped();
    const r = await real(...args);
    if (drops) throw dropped();
    return r;
  };
  return { calls: () => calls, hasDropped: () => left === 0, rearm: () => void (left = 1) };
}

/**
 * `target[method]` fails as a dropped connection fails it until `end()`: a database down for
 * longer than a write's few quick tries (`retried`). `calls` counts every call.
 */
export function outage<T extends object, K extends keyof T>(target: T, method: K) {
  const real = (target[method] as unknown as (...args: unknown[]) => Promise<unknown>).bind(target);
  let down = true;
  let calls = 0;
  (target as Record<K, unknown>)[method] = async (...args: unknown[]) => {
    calls++;
    if (down) throw dropped();
    return real(...args);
  };
  return { calls: () => calls, end: () => void (down = false) };
}
