import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './log.js';
import type { Readiness } from './services/index.js';
import { bannerFields, renderBanner, type BannerInfo } from './banner.js';

export interface AnnounceOptions {
  readiness: Pick<Readiness, 'check'>;
  log: Logger;
  /** Stops waiting (shutdown). */
  signal: AbortSignal;
  /** The banner's facts, read once ready (adapters know their mode by then). */
  info: () => BannerInfo;
  /** More fields for the "charbridge is running" line. */
  extra?: Record<string, unknown>;
  /** Shows the human banner; without it the facts go into the log line only. */
  banner?: (text: string) => void;
  /** Between checks while not ready. */
  intervalMs?: number;
  /** How long before "still not ready" becomes a warning (and again every this long). */
  warnAfterMs?: number;
}

/** A URL a person can open: a wildcard bind address becomes localhost. */
export function browsableUrl(url: string): string {
  return url.replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:\d+$)/, 'http://localhost');
}

/**
 * Say "charbridge is running" (and show the banner) only once `/ready` would answer 200, so the
 * line means what an operator takes it to mean. Until then the check is repeated, and what is
 * not ready is logged — at once, then as a warning every `warnAfterMs`. Resolves true once ready,
 * false if the signal aborts first.
 */
export async function announceWhenReady(o: AnnounceOptions): Promise<boolean> {
  const interval = o.intervalMs ?? 500;
  const warnAfter = o.warnAfterMs ?? 30_000;
  let waited = 0;
  let nextWarn = warnAfter;
  while (!o.signal.aborted) {
    const report = await o.readiness.check();
    if (report.ready) {
      const facts = o.info();
      const info = { ...facts, url: browsableUrl(facts.url) };
      if (o.banner) {
        o.log.info({ url: info.url, ...o.extra }, 'charbridge is running');
        o.banner(renderBanner(info));
      } else o.log.info({ url: info.url, ...o.extra, ...bannerFields(info) }, 'charbridge is running');
      return true;
    }
    const waitingFor = report.checks.filter((c) => !c.ready).map((c) => `${c.name}: ${c.reason ?? 'not ready'}`);
    if (waited === 0) o.log.info({ waitingFor }, 'started; waiting until ready');
    else if (waited >= nextWarn) {
      o.log.warn({ waitingFor, waitedMs: waited }, 'still not ready');
      nextWarn += warnAfter;
    }
    try {
      await sleep(interval, undefined, { signal: o.signal });
    } catch {
      break; // aborted
    }
    waited += interval;
  }
  return false;
}
