/**
 * What a Slack reply notes in the database (the adapters' `SendMarks`) so that the next attempt
 * at it, after a crash, knows what to look for:
 *
 * - before its first call to Slack, that it began sending. An attempt whose reply has no note
 *   never showed anything, so a reply sent again needs no lookup (`conversations.history` /
 *   `.replies`, Tier 3: a crash with many replies in flight would spend it, and a lookup refused
 *   sends the reply whole, maybe twice);
 * - a native stream it opened: Slack shows no metadata on a stream until it stops, so one the
 *   crash left open could not be found by its tag;
 * - each message it posted, so that an attempt Slack will not answer a lookup for (its tier
 *   spent by a burst of recoveries) still edits them instead of posting the reply beside them.
 *
 * A note that cannot be written (after a few tries) or read costs only this protection: the
 * reply is looked up as if it may have been sent. The lookup stays the first resort where it has
 * room: it also finds a message posted just before a crash, whose note never landed, and a stream
 * opened then (by its text: the bot's untagged message showing the reply's first words).
 */
import type { Log, SendMarks } from '../../src/core/adapter.js';
import { ReplyNotes } from '../shared/reply-notes.js';

/** An open stream as noted: its message, and where in the reply's text it began. */
export interface StreamMark {
  ts: string;
  start: number;
}

/** A message of the reply as posted: the part it holds of the text from `from` on. */
export interface PostedMark {
  ts: string;
  from: number;
  part: number;
}

/** What is known of an earlier attempt at a reply. */
export type EarlierAttempt =
  /** It never began sending: nothing to look for. */
  | { sent: false }
  /**
   * It may have shown some of the reply; `stream` is the last native stream it opened, `posted`
   * the messages it posted, `since` when the first attempt began sending (absent in older notes).
   */
  | { sent: true; stream?: StreamMark | undefined; posted: PostedMark[]; since?: number | undefined }
  /** Nothing noted can say (no note store, or it failed): look. */
  | { sent: 'unknown' };

interface Note {
  stream?: StreamMark | undefined;
  posted?: PostedMark[];
  /** When the reply's first attempt began sending (ms): a lookup need not read further back. */
  since?: number | undefined;
}

export class ReplyMarks {
  private readonly notes: ReplyNotes<Note>;

  constructor(
    marks: SendMarks | undefined,
    log: Log,
    private readonly now: () => number = Date.now,
  ) {
    this.notes = new ReplyNotes(marks, { platform: 'slack', parse: parseNote, log });
  }

  /** Before the first call of reply `replyKey` (an attempt after a crash keeps the first one's time). */
  async sending(replyKey: string): Promise<void> {
    await this.notes.write(replyKey, { since: this.notes.cached(replyKey)?.since ?? this.now() });
  }

  /** A native stream of the reply opened (replacing the previous one's note). */
  async streamOpened(replyKey: string, stream: StreamMark): Promise<void> {
    await this.notes.write(replyKey, { stream });
  }

  /** A message of the reply posted (replacing any noted for the same part). */
  async messagePosted(replyKey: string, posted: PostedMark): Promise<void> {
    const others = (this.notes.cached(replyKey)?.posted ?? []).filter((p) => p.from !== posted.from || p.part !== posted.part);
    await this.notes.write(replyKey, { posted: [...others, posted] });
  }

  /** What the earlier attempt noted; when the note cannot be read, Slack is looked in. */
  async earlier(replyKey: string): Promise<EarlierAttempt> {
    const note = await this.notes.read(replyKey);
    if (note === undefined) return { sent: 'unknown' };
    if (note === null) return { sent: false };
    return { sent: true, stream: note.stream, posted: note.posted ?? [], since: note.since };
  }
}

function parseNote(value: string): Note {
  try {
    const v = JSON.parse(value) as { stream?: Partial<StreamMark>; posted?: unknown; since?: unknown };
    const s = v.stream;
    const stream = typeof s?.ts === 'string' && typeof s.start === 'number' ? { ts: s.ts, start: s.start } : undefined;
    const posted = Array.isArray(v.posted)
      ? v.posted.filter((p): p is PostedMark => typeof p?.ts === 'string' && Number.isInteger(p?.from) && Number.isInteger(p?.part))
      : [];
    return { stream, posted, ...(typeof v.since === 'number' && Number.isFinite(v.since) ? { since: v.since } : {}) };
  } catch {
    return {};
  }
}
