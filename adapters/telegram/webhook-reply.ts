/**
 * The answer to one of Telegram's webhook requests, which may carry one Bot API call: Telegram
 * runs a method named in the response body ("a request to the Bot API while sending an answer
 * to the webhook") and never tells anyone how it went. That suits "typing…", which nobody
 * reads the result of, and saves a request a turn; replies, whose results we need, never ride
 * here.
 *
 * The update is confirmed (answered) only after the engine has it on disk, as before; the answer
 * then waits, briefly, for the turn to say whether it wants typing — the turn starts a few
 * milliseconds later — so the call can ride along. A turn that queues behind an earlier one of
 * its chat does not hold the answer longer than `maxWaitMs`: its typing goes as a request.
 */
export class WebhookReply {
  private call: Record<string, unknown> | undefined;
  private closed = false;
  private readonly holds: Array<Promise<unknown>> = [];
  private wake: (() => void) | undefined;

  /** The body to answer with: a method call, or nothing. */
  get body(): string | undefined {
    return this.call && JSON.stringify(this.call);
  }

  /** Carry `method(params)` in this answer, if it is still open and carries nothing yet. */
  offer(method: string, params: Record<string, unknown>): boolean {
    if (this.closed || this.call) return false;
    this.call = { method, ...params };
    this.wake?.();
    return true;
  }

  /** Answer no sooner than `work` settles (or a call is offered, or the wait runs out). */
  holdUntil(work: Promise<unknown>): void {
    if (!this.closed) this.holds.push(work);
  }

  /** Nothing more is carried (the answer is being written). */
  close(): void {
    this.closed = true;
  }

  /** Wait for an offer, for every hold to settle, or `maxWaitMs`; after this nothing more is carried. */
  async settle(maxWaitMs: number): Promise<void> {
    if (!this.call && this.holds.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(this.holds),
        new Promise<void>((resolve) => {
          this.wake = resolve;
          timer = setTimeout(resolve, maxWaitMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.close();
  }
}
