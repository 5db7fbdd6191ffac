import type { ReplyEvent } from '../core/types.js';

/**
 * A one-consumer, unbounded push channel of ReplyEvents. The engine writes at the model's
 * pace; the consumer (an adapter pacing edits, an SSE response) reads at its own. Because the
 * engine, not the consumer, drives the turn, a slow or vanished consumer never loses the reply:
 * it is persisted regardless.
 */
export class ReplyStream implements AsyncIterable<ReplyEvent> {
  private buffer: ReplyEvent[] = [];
  private waiting: ((r: IteratorResult<ReplyEvent>) => void) | undefined;
  private closed = false;
  /** While set, events are kept from the consumer (see `holdUntil`). */
  private gate: Promise<void> | undefined;
  private resolveDone!: () => void;
  private resolveAccepted!: () => void;
  private rejectAccepted!: (err: unknown) => void;
  private resolveDelivered!: () => void;
  /** The consumer reports delivery itself (`holdDelivery`); reading to the end is not enough. */
  private held = false;
  private handedOffFlag = false;
  /** Some event has reached the consumer (a handed-off stream then goes on; see `handOff`). */
  private given = false;
  /** Handed off before the consumer got anything: nothing more reaches it. */
  private dropping = false;
  /** Resolves when the engine has finished with this message (answered, ignored or failed). */
  readonly done: Promise<void> = new Promise((r) => (this.resolveDone = r));
  /**
   * Resolves once the message is durably recorded (or dropped as a duplicate or bot message):
   * from then on a crash cannot lose it. Adapters acknowledge the platform after this, not before.
   */
  readonly accepted: Promise<void> = new Promise((resolve, reject) => {
    this.resolveAccepted = resolve;
    this.rejectAccepted = reject;
  });

  /**
   * Resolves once the consumer has delivered the answer: it called the function `holdDelivery`
   * returned (after the final send, or a final failure), or — when it never asked to hold — it
   * read the stream to its end. The engine marks a platform message answered only then, so a
   * crash between storing a reply and sending it leaves the message to the next process.
   */
  readonly delivered: Promise<void> = new Promise((r) => (this.resolveDelivered = r));

  /**
   * The consumer will say when the answer is delivered (an adapter sending it): call the returned
   * function after the final send or a final failure. Call this before reading the stream.
   */
  holdDelivery(): () => void {
    this.held = true;
    return () => this.resolveDelivered();
  }

  /**
   * Keep events from the consumer until `until` settles (the chat's earlier replies, on other
   * instances, are delivered); the engine goes on writing them meanwhile.
   */
  holdUntil(until: Promise<unknown>): void {
    const gate: Promise<void> = until.then(
      () => this.open(gate),
      () => this.open(gate),
    );
    this.gate = gate;
  }

  private open(gate: Promise<void>): void {
    if (this.gate !== gate) return;
    this.gate = undefined;
    this.wake();
  }

  /** The message is on disk (see `accepted`). */
  accept(): void {
    this.resolveAccepted();
  }

  /**
   * The message could not be recorded: it was not accepted, and the platform must deliver it
   * again (an adapter does not acknowledge it). The stream ends without a reply.
   */
  refuse(err: unknown): void {
    this.rejectAccepted(err);
    this.accepted.catch(() => undefined);
  }

  push(event: ReplyEvent): void {
    if (this.closed || this.dropping) return;
    this.buffer.push(event);
    this.wake();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    this.resolveAccepted();
    this.resolveDone();
  }

  /** Hand a waiting consumer the next event, or the end, unless held. */
  private wake(): void {
    if (!this.waiting || this.gate) return;
    const e = this.buffer.shift();
    if (!e && !this.closed) return;
    const w = this.waiting;
    this.waiting = undefined;
    if (e) this.given = true;
    w(e ? { value: e, done: false } : this.finished());
  }

  get ended(): boolean {
    return this.closed;
  }

  /**
   * The message was handed to the recovery sweep (the database dropped under its turn): whoever
   * answers it later takes its place in the chat's line back, so the place is not given up here.
   */
  handOff(): void {
    this.handedOffFlag = true;
    // Whoever answers the message later sends the whole reply, with the chat's line's place this
    // one held: what this turn produced and still holds back (waiting for that place) is dropped,
    // or both would send it. A reply the consumer already began is left to finish, and the later
    // answer finds it by its send notes, as after a crash.
    if (this.given) return;
    this.dropping = true;
    this.buffer = [];
  }

  get handedOff(): boolean {
    return this.handedOffFlag;
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplyEvent> {
    return {
      next: () => {
        if (!this.gate) {
          const e = this.buffer.shift();
          if (e) {
            this.given = true;
            return Promise.resolve({ value: e, done: false });
          }
          if (this.closed) return Promise.resolve(this.finished());
        }
        return new Promise((r) => (this.waiting = r));
      },
    };
  }

  /** The consumer has read the end: delivered, unless it reports delivery itself. */
  private finished(): IteratorResult<ReplyEvent> {
    if (!this.held) this.resolveDelivered();
    return { value: undefined, done: true };
  }

  /** Read everything (tests, sync HTTP). */
  async collect(): Promise<ReplyEvent[]> {
    const out: ReplyEvent[] = [];
    for await (const e of this) out.push(e);
    return out;
  }
}
