/**
 * PostgreSQL going away for seconds — a restart, a failover — should delay what the service does,
 * not fail it. Taking a connection therefore waits out such an outage (up to `waitMs`), since a
 * statement that never reached the server can always be sent again. A statement whose connection
 * dropped while it ran cannot: it may have been applied. That one fails, as a
 * `StoreUnavailableError` (503 over HTTP), like a connection still unreachable after the wait.
 *
 * Until the pool has connected once, nothing waits: a wrong DATABASE_URL fails the start at once.
 */
import { StoreUnavailableError } from '../core/errors.js';

/** How long taking a connection waits for an unreachable server before failing. */
export const OUTAGE_WAIT_MS = 30_000;
const PROBE_MS = 100;

/** Socket errors, and PostgreSQL's codes for a server shutting down or not yet accepting connections. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

/** Whether `err` says the server could not be reached or dropped the connection (not that a statement was wrong). */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return true;
  // pg's own errors for a connection that ended or can no longer be used carry no code.
  return typeof e.message === 'string' && /^Connection terminated|is not queryable|Connection ended unexpectedly/.test(e.message);
}

/** `err` as the error callers see: an unreachable server becomes a `StoreUnavailableError`. */
export function asStoreError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || !isUnreachable(err)) return err;
  return new StoreUnavailableError(`The database cannot be reached (${(err as Error).message}); try again shortly`, err);
}

/**
 * How long a database has been unreachable in all, as this process saw it: from a connection
 * found unreachable to the next that succeeds. Bounds that wait for work which itself waits on
 * the database (a reply's delivery, a dead instance's message taken over) stop counting while it
 * is away, so an outage of minutes does not use them up and let a chat's later replies overtake.
 */
export class Downtime {
  private total = 0;
  private since: number | undefined;

  down(at = Date.now()): void {
    this.since ??= at;
  }

  up(at = Date.now()): void {
    if (this.since === undefined) return;
    this.total += Math.max(0, at - this.since);
    this.since = undefined;
  }

  /** Milliseconds unreachable so far, the current outage included. */
  soFar(at = Date.now()): number {
    return this.total + (this.since === undefined ? 0 : Math.max(0, at - this.since));
  }
}

/**
 * `connect`, waiting out an outage once it has succeeded before. While the server is unreachable
 * one probe (`connect` then `release`, every 100 ms) watches for its return and every waiter goes
 * on the moment it answers: each waiter backing off on its own could sleep a second past it, and
 * work that waits on the database (a sent reply's "answered" mark) would wait that much longer.
 */
export function waitingConnect<T>(connect: () => Promise<T>, release: (client: T) => void, waitMs = OUTAGE_WAIT_MS, downtime = new Downtime()): () => Promise<T> {
  let connectedOnce = false;
  let back: Promise<void> | undefined;
  /** Callers waiting now: the probe stops once none is left (a long outage, everyone gave up). */
  let waiting = 0;
  const probe = async () => {
    while (waiting > 0) {
      await new Promise((r) => setTimeout(r, PROBE_MS));
      try {
        release(await connect());
        downtime.up();
        return;
      } catch (err) {
        if (!isUnreachable(err)) return; // reachable, just refusing: the waiters' own tries say why
      }
    }
  };
  return async () => {
    const started = Date.now();
    for (;;) {
      try {
        const client = await connect();
        connectedOnce = true;
        downtime.up();
        return client;
      } catch (err) {
        if (!connectedOnce || !isUnreachable(err)) throw err;
        downtime.down();
        const left = waitMs - (Date.now() - started);
        if (left <= 0) {
          throw new StoreUnavailableError(`The database has been unreachable for ${Math.round(waitMs / 1000)} s (${(err as Error).message}); try again shortly`, err);
        }
        waiting++;
        back ??= probe().finally(() => (back = undefined));
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([back, new Promise((r) => (timer = setTimeout(r, left)))]);
        } finally {
          clearTimeout(timer);
          waiting--;
        }
      }
    }
  };
}
