/**
 * `write` — which must be safe to repeat — tried up to five times over about three seconds: a
 * connection that dropped under it says nothing about whether it landed, and the database is
 * usually back within that. False (after `failed`) when every try failed.
 */
export async function retried(write: () => Promise<unknown>, failed?: (err: unknown) => void): Promise<boolean> {
  return retriedFor(5, write, failed);
}

/**
 * Like `retried`, for work nobody waits on (run in the background): tried for about a minute and
 * a half, a PostgreSQL restart's length, the pause growing to 5 s.
 */
export function retriedInBackground(write: () => Promise<unknown>, failed?: (err: unknown) => void): Promise<boolean> {
  return retriedFor(20, write, failed);
}

async function retriedFor(tries: number, write: () => Promise<unknown>, failed?: (err: unknown) => void): Promise<boolean> {
  for (let attempt = 1, pause = 200; ; attempt++, pause = Math.min(pause * 2, 5000)) {
    try {
      await write();
      return true;
    } catch (err) {
      if (attempt >= tries) {
        failed?.(err);
        return false;
      }
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
