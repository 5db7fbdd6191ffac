/**
 * What a Telegram reply notes in the database (the adapters' `SendMarks`) so that the next
 * attempt at it, after a crash, edits what the earlier one showed instead of showing it again:
 * each message the reply sent that more calls were to follow — the preview a group's reply is
 * streamed into by edits, the parts of a long reply before its last — by its part's index.
 * Telegram cannot be asked which messages a bot sent, so these notes are all a later attempt has.
 * A private chat's usual reply (drafts, then one message) notes nothing.
 */
import type { Log, SendMarks } from '../../src/core/adapter.js';
import { PartNotes } from '../shared/reply-notes.js';

export type TelegramReplyMarks = PartNotes<number>;

export function telegramReplyMarks(marks: SendMarks | undefined, log: Log): TelegramReplyMarks {
  return new PartNotes(marks, log, 'telegram', (v): v is number => Number.isSafeInteger(v));
}
