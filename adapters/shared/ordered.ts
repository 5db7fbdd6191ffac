/**
 * Keeps a chat's messages in arrival order on their way into the engine. Turning a platform
 * event into an InboundMessage can take a network round trip (an admin check, a photo download),
 * and the engine serializes turns in the order `handle` is called — so without this, a photo
 * followed quickly by a text could reach the engine text-first. Only the normalization runs in
 * the chain; replies are delivered outside it, so a long reply never holds up the next message.
 */
export class OrderedByKey {
  private tails = new Map<string, Promise<void>>();

  /** Run `task` after every earlier task with the same key has finished (failed ones included). */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
