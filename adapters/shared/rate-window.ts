/**
 * Sliding-window arithmetic shared by the outbound budget's per-chat windows and the in-process
 * shared window: "at most `max` sends in any `windowMs`", counted from when each send finished.
 */

import type { Priority, RateWindow } from '../../src/core/outbound-window.js';

export type { Priority, RateWindow } from '../../src/core/outbound-window.js';

/**
 * ms until one more send of `priority` fits in `w`, given the finish times of counted sends
 * (ascending) and the sends still in flight. Infinity when it never can (`normal` in a window
 * whose reserve is all of it). When only sends in flight are in the way, a short poll interval:
 * their finish times are not known yet.
 */
export function windowWait(times: readonly number[], inFlight: number, w: RateWindow, priority: Priority, now: number): number {
  const cap = priority === 'normal' ? w.max - (w.reserve ?? 0) : w.max;
  if (cap <= 0) return Number.POSITIVE_INFINITY;
  let first = times.length;
  while (first > 0 && times[first - 1]! > now - w.windowMs) first--;
  const recent = times.length - first;
  const used = recent + inFlight;
  if (used < cap) return 0;
  const mustExpire = used - cap + 1;
  if (mustExpire > recent) return Math.max(1, Math.ceil(w.windowMs / Math.max(1, w.max)));
  return Math.max(1, Math.ceil(times[first + mustExpire - 1]! + w.windowMs - now));
}

/** The longest wait over several windows; 0 when every one has room. */
export function windowsWait(times: readonly number[], inFlight: number, windows: readonly RateWindow[], priority: Priority, now: number): number {
  let wait = 0;
  for (const w of windows) wait = Math.max(wait, windowWait(times, inFlight, w, priority, now));
  return wait;
}

/** Append finish time `t` and forget the times no window of `windows` can see any more. */
export function recordSend(times: number[], t: number, windows: readonly RateWindow[]): void {
  let horizon = 0;
  for (const w of windows) horizon = Math.max(horizon, w.windowMs);
  if (horizon === 0) return void times.splice(0);
  times.push(t);
  let firstKept = 0;
  while (firstKept < times.length && times[firstKept]! <= t - horizon) firstKept++;
  if (firstKept > 0) times.splice(0, firstKept);
}
