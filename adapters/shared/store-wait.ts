/**
 * What an adapter reads from the database at start to find what it missed (Discord's recent
 * chats and gateway session notes) cannot be skipped when the database is away: what was sent
 * while no process listened is found only there, and only at a start. So such a read waits for
 * the database, as a message's claim does, while the adapter holds its live messages back (they
 * could not be put on disk meanwhile anyway).
 */
import type { Log } from '../../src/core/adapter.js';
import { StoreUnavailableError } from '../../src/core/errors.js';

/** Between tries: each try already waits a while for an unreachable PostgreSQL. */
const PAUSE_MS = 500;

/**
 * `read()`, tried again for as long as the database cannot be reached; any other failure is
 * thrown. Says once, at warn, that the start waits (`waiting`), and at info when it goes on.
 */
export async function onceStoreAnswers<T>(read: () => Promise<T>, o: { log: Log; waiting: string; sleep?: ((ms: number) => Promise<void>) | undefined }): Promise<T> {
  let waited = false;
  for (;;) {
    try {
      const got = await read();
      if (waited) o.log.info(`the database answers again: ${o.waiting}`);
      return got;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (!waited) o.log.warn({ err }, `the database cannot be reached; waiting for it: ${o.waiting}`);
      waited = true;
      await (o.sleep ? o.sleep(PAUSE_MS) : new Promise((r) => setTimeout(r, PAUSE_MS)));
    }
  }
}
