/**
 * ReplyStream → a slash command's response. Discord wants an acknowledgement within 3 s of the
 * interaction, and decides at that moment whether the response is ephemeral:
 *
 * - Anything that asks the model (`/chat`, `/admin proactive test`) is deferred at once
 *   ("thinking…"), then the answer streams into the original response by edits (the same
 *   StreamedReply as channels, through the interaction's own budget queue), with followups past
 *   2,000 characters.
 * - Other commands are answered directly when the engine is quick — refusals ephemerally, so only
 *   the person who tried sees them. If no answer is ready after `deferAfterMs` (a model turn in
 *   that channel holds the queue), the response is deferred publicly and edited later; an
 *   ephemeral answer then replaces the public placeholder with an ephemeral followup.
 */
import type { ReplyEvent } from '../../src/core/types.js';
import { chunkText } from '../shared/chunk.js';
import { deliverEvents } from '../shared/streamed-reply.js';
import { streamedReply, type OutboundDeps, type Surface } from './outbound.js';
import type { DcCommand } from './transport.js';

/** Said when the engine had nothing to say (a duplicate, or a notice it already gave this minute). */
export const NOTHING_TO_SAY = 'Nothing to answer right now.';
/** Left in a public deferred response whose answer turned out to be for the invoker only. */
export const ANSWERED_PRIVATELY = 'Answered privately.';

type State = 'fresh' | 'deferred' | 'replied';

/** Answer one slash command from its engine events. Never throws; failures are logged. */
export async function answerCommand(
  events: AsyncIterable<ReplyEvent>,
  cmd: DcCommand,
  deps: OutboundDeps,
  opts: { deferNow: boolean; deferAfterMs: number },
): Promise<void> {
  const log = deps.log;
  let state: State = 'fresh';
  /** The original response shows real text (not the "thinking…" placeholder). */
  let originalUsed = false;
  let deferring: Promise<void> | undefined;
  const defer = () =>
    (deferring ??= cmd.defer(false).then(() => {
      if (state === 'fresh') state = 'deferred';
    }));
  const acked = async () => {
    clearTimeout(timer);
    if (deferring) await deferring;
  };
  const timer = opts.deferNow ? undefined : setTimeout(() => void defer().catch((err: unknown) => log.warn({ err }, 'discord deferReply failed')), opts.deferAfterMs);

  const say = async (text: string, ephemeral: boolean) => {
    await acked();
    const [first = NOTHING_TO_SAY, ...rest] = chunkText(text, deps.tuning.maxMessageLength);
    if (state === 'fresh') {
      await cmd.reply(first, ephemeral);
      state = 'replied';
    } else if (state === 'deferred' && !originalUsed) {
      // The public "thinking…" can no longer become ephemeral: close it neutrally, answer privately.
      await cmd.editReply(ephemeral ? ANSWERED_PRIVATELY : first);
      if (ephemeral) await cmd.followUp(first, true);
    } else {
      await cmd.followUp(first, ephemeral);
    }
    originalUsed = true;
    for (const c of rest) await cmd.followUp(c, ephemeral);
  };

  const surface: Surface = {
    key: `ix:${cmd.id}`,
    post: async (index, text) => {
      await acked();
      if (index === 0 && !originalUsed) {
        if (state === 'fresh') {
          await cmd.reply(text, false);
          state = 'replied';
        } else await cmd.editReply(text);
        originalUsed = true;
        return '@original';
      }
      return cmd.followUp(text, false);
    },
    edit: async (_index, messageId, text) => void (await cmd.editReply(text, messageId)),
  };

  const failed = (err: unknown, what: string) => log.warn({ err, command: cmd.name, what }, 'discord interaction response failed');
  const safely = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      failed(err, what);
    }
  };
  try {
    if (opts.deferNow) await safely('defer', defer);
    await deliverEvents(events, {
      newReply: () => streamedReply(surface, deps),
      start: () => safely('defer', async () => (state === 'fresh' ? defer() : undefined)),
      notice: (e) => say(e.text, e.type === 'notice' && (e.ephemeral === true || e.reason === 'refused')),
      failed,
    });
    if (!originalUsed) await safely('empty answer', () => say(NOTHING_TO_SAY, true));
  } finally {
    clearTimeout(timer);
    await deferring?.catch(() => undefined);
  }
}
