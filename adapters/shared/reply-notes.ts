/**
 * What a reply notes in the database (the adapters' `SendMarks`) about the messages it has shown,
 * for the next attempt at it after a crash: one note per reply, a JSON value overwritten whole.
 * Each platform decides what goes in it (Slack's reply-marks.ts, Telegram's reply-marks.ts);
 * this keeps each reply's note to merge the next change into, and writes and reads it.
 */
import { LRUCache } from 'lru-cache';
import type { Log, SendMarks } from '../../src/core/adapter.js';
import { retried } from '../../src/core/retry.js';

export class ReplyNotes<N extends object> {
  /**
   * Each reply's note as last written or read: a note is one value, overwritten whole, so each
   * write carries what the earlier ones said (this attempt's and, once read, the one before's).
   */
  private readonly notes = new LRUCache<string, N>({ max: 2000 });

  constructor(
    private readonly marks: SendMarks | undefined,
    private readonly o: {
      /** Names the platform in log lines and the notes' keys (`<platform>:reply:<key>`). */
      platform: string;
      /** A stored value read back; whatever it cannot make sense of is left out. */
      parse(value: string): N;
      log: Log;
    },
  ) {}

  /** This process's copy of the reply's note, if it wrote or read one. */
  cached(replyKey: string): N | undefined {
    return this.notes.get(replyKey);
  }

  /**
   * The note with `change` merged in. Safe to write again: one a database restart dropped (its
   * connection closed under it) is tried again until the database is back, since a note lost now
   * is a reply shown twice should this process die before the reply ends.
   */
  async write(replyKey: string, change: Partial<N>): Promise<void> {
    const marks = this.marks;
    if (!marks) return;
    const note = { ...this.notes.get(replyKey), ...change } as N;
    this.notes.set(replyKey, note);
    await retried(
      () => marks.put(this.keyOf(replyKey), JSON.stringify(note)),
      (err) => this.o.log.warn({ err }, `${this.o.platform}: could not note a reply being sent; if this process dies now, it may show twice`),
    );
  }

  /** The reply's note: null when none was written, undefined when nothing can say (no note store, or it failed). */
  async read(replyKey: string): Promise<N | null | undefined> {
    if (!this.marks) return undefined;
    let value: string | undefined;
    try {
      value = await this.marks.get(this.keyOf(replyKey));
    } catch (err) {
      this.o.log.warn({ err }, `${this.o.platform}: could not read what an earlier attempt at this reply noted`);
      return undefined;
    }
    if (value === undefined) return null;
    const note = this.o.parse(value);
    this.notes.set(replyKey, note);
    return note;
  }

  private keyOf(replyKey: string): string {
    return `${this.o.platform}:reply:${replyKey}`;
  }
}

/**
 * The messages a reply showed that more calls were to follow (a preview it edits, the parts of a
 * long reply before its last), by part, so that the next attempt after a crash edits them
 * instead of showing them again, where the platform cannot be asked what was sent (Telegram, a
 * Discord webhook's posts). The message that ends a reply is not noted: the reply is marked
 * answered right after it, so a note would close no window the mark leaves open. A note that
 * cannot be written costs only this protection: that message may show twice.
 */
export class PartNotes<Id extends string | number> {
  private readonly notes: ReplyNotes<{ posted?: Record<string, Id> }>;

  constructor(marks: SendMarks | undefined, log: Log, platform: string, isId: (v: unknown) => v is Id) {
    this.notes = new ReplyNotes(marks, { platform, log, parse: (value) => parsePosted(value, isId) });
  }

  /** Part `index` of reply `replyKey` is shown by message `messageId` (replacing any noted for it). */
  async posted(replyKey: string, index: number, messageId: Id): Promise<void> {
    await this.notes.write(replyKey, { posted: { ...this.notes.cached(replyKey)?.posted, [index]: messageId } });
  }

  /** The messages an earlier attempt at reply `replyKey` noted, by part; empty when none (or the note cannot be read). */
  async earlier(replyKey: string): Promise<Map<number, Id>> {
    const note = await this.notes.read(replyKey);
    return new Map(Object.entries(note?.posted ?? {}).map(([i, id]) => [Number(i), id]));
  }
}

function parsePosted<Id>(value: string, isId: (v: unknown) => v is Id): { posted?: Record<string, Id> } {
  try {
    const v = JSON.parse(value) as { posted?: unknown };
    const posted: Record<string, Id> = {};
    if (v.posted && typeof v.posted === 'object') {
      for (const [i, id] of Object.entries(v.posted)) if (/^\d+$/.test(i) && isId(id)) posted[i] = id;
    }
    return { posted };
  } catch {
    return {};
  }
}
