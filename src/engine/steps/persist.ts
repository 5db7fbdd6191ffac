import { countTokens } from '../../llm/index.js';
import { announce, writeAlongside } from '../events.js';
import type { Step } from '../pipeline.js';
import { resolved } from '../pipeline.js';

/**
 * Store the user's message before the model is called, so a crash loses nothing accepted. A
 * platform message remembers its event, so a re-run of that event reuses the stored row.
 */
export const persist: Step = async (ctx, next) => {
  if (ctx.user) {
    const { conversation, character } = resolved(ctx);
    const u = ctx.user;
    ctx.userMessage = await ctx.deps.store.messages.append({
      conversationId: conversation.id,
      role: 'user',
      kind: 'user',
      content: u.text,
      imageUrls: u.imageUrls,
      tokenCount: countTokens(u.text),
      authorId: u.authorId,
      authorName: u.authorName,
      sourceEvent: u.sourceEvent ?? null,
    }, { alongside: (tx, message) => writeAlongside(ctx.deps, tx, { conversation, character, message }) });
    await announce(ctx.deps, { conversation, character, message: ctx.userMessage });
  }
  await next();
};
