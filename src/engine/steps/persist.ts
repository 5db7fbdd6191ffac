import { countTokens } from '../../llm/index.js';
import { announce, writeAlongside } from '../events.js';
import type { Step } from '../pipeline.js';
import { resolved } from '../pipeline.js';

/**
 * What a message keeps of a picture: a link as it came (a Discord attachment's address), but of
 * a picture that came as its bytes (a data URL, up to MAX_IMAGE_BYTES) only a note of its type
 * and size. Only the message being answered is sent with its pictures — from the turn's own copy,
 * which a crash keeps in the message's claim until the turn is over — and older ones are only
 * counted, so keeping the bytes with every message cost up to 7 MB a picture, read again by every
 * later turn whose window held it, and kept even when the turn failed and cost nothing.
 */
export function keptImage(url: string): string {
  if (!url.startsWith('data:')) return url;
  const comma = url.indexOf(',');
  const type = (comma > 5 ? url.slice(5, comma) : '').split(';')[0] || 'image';
  const encoded = comma < 0 ? 0 : url.length - comma - 1;
  const padding = url.endsWith('==') ? 2 : url.endsWith('=') ? 1 : 0;
  const bytes = Math.max(0, Math.floor((encoded * 3) / 4) - padding);
  return `picture:${type}:${bytes}`;
}

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
      imageUrls: u.imageUrls.map(keptImage),
      tokenCount: ctx.userTokens ?? countTokens(u.text),
      authorId: u.authorId,
      authorName: u.authorName,
      sourceEvent: u.sourceEvent ?? null,
    }, { alongside: (tx, message) => writeAlongside(ctx.deps, tx, { conversation, character, message }) });
    await announce(ctx.deps, { conversation, character, message: ctx.userMessage });
  }
  await next();
};
