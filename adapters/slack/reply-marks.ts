/**
 * What a Slack reply notes in the database (the adapters' `SendMarks`) so that the next attempt
 * at it, after a crash, knows what to look for:
 *
 * - before its first call to Slack, that it began sending. An attempt whose reply has no note
 *   never showed anything, so a reply sent again needs no lookup (`conversations.history` /
 *   `.replies`, Tier 3: a crash with many replies in flight would spend it, and a lookup refused
 *   sends the reply whole, maybe twice);
 * - a native stream it opened: Slack shows no metadata on a stream until it stops, so one the
 *   crash left open could not be found by its tag.
 *
 * A note that cannot be written (after a few tries) or read costs only this protection: the
 * reply is looked up as if it may have been sent.
 */
import type { Log, SendMarks } from '../../src/core/adapter.js';
import { retried } from '../../src/core/retry.js';

/** An open stream as noted: its message, and where in the reply's text it began. */
export interface StreamMark {
  ts: string;
  start: number;
}

/** What is known of an earlier attempt at a reply. */
export type EarlierAttempt =
  /** It never began sending: nothing to look for. */
  | { sent: false }
  /** It may have shown some of the reply; `stream` is the last native stream it opened. */
  | { sent: true; stream?: StreamMark | undefined }
  /** Nothing noted can say (no note store, or it failed): look. */
  | { sent: 'unknown' };

const keyOf = (replyKey: string) => `slack:reply:${replyKey}`;

export class ReplyMarks {
  constructor(
    private readonly marks: SendMarks | undefined,
    private readonly log: Log,
  ) {}

  /** Before the first call of reply `replyKey`. */
  async sending(replyKey: string): Promise<void> {
    await this.put(replyKey, {});
  }

  /** A native stream of the reply opened (replacing the previous one's note). */
  async streamOpened(replyKey: string, stream: StreamMark): Promise<void> {
    await this.put(replyKey, { stream });
  }

  async earlier(replyKey: string): Promise<EarlierAttempt> {
    if (!this.marks) return { sent: 'unknown' };
    let value: string | undefined;
    try {
      value = await this.marks.get(keyOf(replyKey));
    } catch (err) {
      this.log.warn({ err }, 'slack: could not read what an earlier attempt at this reply noted; looking in Slack');
      return { sent: 'unknown' };
    }
    if (value === undefined) return { sent: false };
    return { sent: true, stream: parseStream(value) };
  }

  /**
   * A note overwrites the key, so it is safe to write again: one a database restart dropped (its
   * connection closed under it) is tried again until the database is back, since a note lost now
   * is a reply shown twice should this process die before the reply ends.
   */
  private async put(replyKey: string, value: { stream?: StreamMark }): Promise<void> {
    const marks = this.marks;
    if (!marks) return;
    await retried(
      () => marks.put(keyOf(replyKey), JSON.stringify(value)),
      (err) => this.log.warn({ err }, 'slack: could not note a reply being sent; if this process dies now, it may show twice'),
    );
  }
}

function parseStream(value: string): StreamMark | undefined {
  try {
    const s = (JSON.parse(value) as { stream?: Partial<StreamMark> }).stream;
    return typeof s?.ts === 'string' && typeof s.start === 'number' ? { ts: s.ts, start: s.start } : undefined;
  } catch {
    return undefined;
  }
}
