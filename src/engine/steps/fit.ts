import { ContextTooLongError } from '../../core/errors.js';
import { countTokens } from '../../llm/index.js';
import { fixedPromptTokens } from '../context.js';
import type { Step } from '../pipeline.js';

/** What a platform user is told when their message cannot be answered within CONTEXT_TOKENS. */
export function tooLongText(err: ContextTooLongError): string {
  const d = err.details as { characterTokens: number; contextTokens: number };
  return d.characterTokens >= d.contextTokens
    ? "My character description is longer than this bot's context allows, so I can't answer. An admin can shorten it or raise CONTEXT_TOKENS."
    : 'That message is too long for me to answer. Please send a shorter one.';
}

/**
 * A turn whose system prompt and message alone are over `CONTEXT_TOKENS` is refused before its
 * message is stored or the model asked: the budget bounds what one turn sends, so a long card (up
 * to 32,000 characters a field) or a long message (a 20,000-character CJK text is as many tokens)
 * cannot make one credit send several times what the operator sized. SillyTavern refuses the
 * same way when the mandatory prompts exceed its context. A platform user is told so; an API
 * turn, which runs this before it is admitted, is refused like an unpaid one (its credits given
 * back, no session made, an async caller answered 413 rather than 202), and so is a proactive
 * turn, whose character alone is over (the scheduler looks again later, as after a model error).
 * The count is kept for the persist step, so the message is tokenized once.
 */
export const fitContext: Step = async (ctx, next) => {
  const u = ctx.user;
  const character = ctx.character;
  if (!character) return next();
  const tokens = u ? countTokens(u.text) : 0;
  if (u) ctx.userTokens = tokens;
  const budget = ctx.deps.config.contextTokens;
  const fixed = fixedPromptTokens(ctx.deps.prompts, {
    character,
    userName: ctx.userName,
    chatType: ctx.chatType,
    instruction: ctx.instruction,
    now: new Date(ctx.deps.clock.now()),
    ...(u ? { current: { tokens, images: u.imageUrls.length, authorName: u.authorName } } : {}),
  });
  const needed = fixed.character + fixed.message;
  if (needed <= budget) return next();
  const whose = fixed.character >= budget ? 'shorten the character' : fixed.character > budget / 2 ? 'send a shorter message or shorten the character' : 'send a shorter message';
  const error = new ContextTooLongError(
    `This turn needs ${needed} tokens before any history (the character ${fixed.character}, the message ${fixed.message}), more than CONTEXT_TOKENS (${budget}) allows; ${whose}. Nothing was stored or charged.`,
    { neededTokens: needed, characterTokens: fixed.character, messageTokens: fixed.message, contextTokens: budget },
  );
  const fields = { characterId: character.id, neededTokens: needed, characterTokens: fixed.character, contextTokens: budget };
  // A message too long is the sender's to shorten; a character too long is the operator's.
  if (fixed.character >= budget) ctx.deps.log.warn(fields, 'a character is longer than CONTEXT_TOKENS allows, so none of its turns can be answered: shorten it or raise CONTEXT_TOKENS');
  else ctx.deps.log.info(fields, 'a turn over CONTEXT_TOKENS was refused before its message was stored');
  if (ctx.source !== 'platform') throw error;
  ctx.out.push({ type: 'error', text: tooLongText(error), error });
  ctx.result = { ok: false, error, userMessage: undefined };
};
