/**
 * What a Telegram reply notes in the database (the adapters' `SendMarks`) so that the next
 * attempt at it, after a crash, edits what the earlier one showed instead of showing it again:
 * each message the reply sent that more calls were to follow — the preview a group's reply is
 * streamed into by edits, the parts of a long reply before its last — by its part's index.
 * Telegram cannot be asked which messages a bot sent, so these notes are all a later attempt has.
 *
 * The message that ends a reply (a private chat's one message, a long reply's last part) is not
 * noted: the reply is marked answered right after it, so a note would close no window the mark
 * leaves open, and a private chat's usual turn writes nothing more. A note that cannot be
 * written costs only this protection: that message may show twice.
 */
import type { Log, SendMarks } from '../../src/core/adapter.js';
import { ReplyNotes } from '../shared/reply-notes.js';

interface Note {
  /** Part index → the message showing it. */
  posted?: Record<string, number>;
}

export class TelegramReplyMarks {
  private readonly notes: ReplyNotes<Note>;

  constructor(marks: SendMarks | undefined, log: Log) {
    this.notes = new ReplyNotes(marks, { platform: 'telegram', parse: parseNote, log });
  }

  /** Part `index` of reply `replyKey` is shown by message `messageId` (replacing any noted for it). */
  async posted(replyKey: string, index: number, messageId: number): Promise<void> {
    await this.notes.write(replyKey, { posted: { ...this.notes.cached(replyKey)?.posted, [index]: messageId } });
  }

  /** The messages an earlier attempt at reply `replyKey` noted, by part; empty when none (or the note cannot be read). */
  async earlier(replyKey: string): Promise<Map<number, number>> {
    const note = await this.notes.read(replyKey);
    return new Map(Object.entries(note?.posted ?? {}).map(([i, id]) => [Number(i), id]));
  }
}

function parseNote(value: string): Note {
  try {
    const v = JSON.parse(value) as { posted?: unknown };
    const posted: Record<string, number> = {};
    if (v.posted && typeof v.posted === 'object') {
      for (const [i, id] of Object.entries(v.posted)) if (/^\d+$/.test(i) && Number.isSafeInteger(id)) posted[i] = id as number;
    }
    return { posted };
  } catch {
    return {};
  }
}
