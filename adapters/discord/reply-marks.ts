/**
 * What a Discord reply spoken through the character's webhook notes in the database (the
 * adapters' `SendMarks`): webhook posts take no nonce, so Discord cannot hand an earlier attempt's
 * post back as it does the bot's. Each post the reply will still edit or follow with more (a
 * preview, the parts of a long reply before its last) is noted by part, and the next attempt
 * after a crash edits those through the same webhook instead of posting them again.
 */
import type { Log, SendMarks } from '../../src/core/adapter.js';
import { PartNotes } from '../shared/reply-notes.js';

export function discordReplyMarks(marks: SendMarks | undefined, log: Log): PartNotes<string> {
  return new PartNotes(marks, log, 'discord', (v): v is string => typeof v === 'string' && /^\d+$/.test(v));
}
