/** How start-up treats a server (PostgreSQL, Redis) that does not answer yet. */
export interface StartupWait {
  /** How long to keep trying a server that refuses or drops connections (STARTUP_WAIT_MS); 0 fails at once. */
  waitMs: number;
  log: { warn(details: object, message: string): void; info(details: object, message: string): void };
  /** Between tries; injected by tests. */
  pauseMs?: number;
}

/** What is being waited for, as the log lines name it. */
export interface ServerToWaitFor {
  /** `PostgreSQL`, `Redis`. */
  server: string;
  /** The variable that says where it is (`DATABASE_URL`, `REDIS_URL`). */
  variable: string;
  /** Where, without a password. */
  where: string;
}

/**
 * `attempt`, tried again while `transient` says the server is only not up yet (connection
 * refused, still starting), for up to `wait.waitMs`. Deployments start their parts together
 * (compose, a host reboot), and charbridge may be first; waiting out a server that is coming up
 * beats a crash loop. Anything else — a wrong password, a missing database, a host that does not
 * exist — fails at once: waiting cannot fix it. After the wait, the last error is thrown, saying so.
 */
export async function waitForServer<T>(what: ServerToWaitFor, attempt: () => Promise<T>, transient: (err: unknown) => boolean, wait: StartupWait | undefined): Promise<T> {
  const started = Date.now();
  let waited = false;
  for (;;) {
    try {
      const result = await attempt();
      if (waited) wait?.log.info({ server: what.server, waitedMs: Date.now() - started }, `${what.server} answered; start-up goes on`);
      return result;
    } catch (err) {
      if (!wait || !transient(err)) throw err;
      if (Date.now() - started >= wait.waitMs) {
        if (!waited) throw err;
        throw new Error(`still no answer after ${Math.round(wait.waitMs / 1000)} s (STARTUP_WAIT_MS): ${(err as Error).message}`, { cause: err });
      }
      if (!waited) {
        waited = true;
        wait.log.warn(
          { server: what.server, where: what.where, reason: (err as Error).message },
          `${what.server} at ${what.where} (${what.variable}) does not answer yet; start-up waits up to ${Math.round(wait.waitMs / 1000)} s for it (STARTUP_WAIT_MS)`,
        );
      }
      await new Promise((r) => setTimeout(r, wait.pauseMs ?? 250));
    }
  }
}
