/**
 * `write` — which must be safe to repeat — tried up to five times over about three seconds: a
 * connection that dropped under it says nothing about whether it landed, and the database is
 * usually back within that. False (after `failed`) when every try failed.
 */
export async function retried(write: () => Promise<unknown>, failed?: (err: unknown) => void): Promise<boolean> {
  for (let attempt = 1, pause = 200; ; attempt++, pause *= 2) {
    try {
      await write();
      return true;
    } catch (err) {
      if (attempt >= 5) {
        failed?.(err);
        return false;
      }
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
