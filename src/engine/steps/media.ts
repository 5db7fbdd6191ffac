import type { MessageContext, Step } from '../pipeline.js';

export const UNSUPPORTED_MEDIA_TEXT = 'I can only read text and images.';

/** Stickers, voice notes, files: a short answer instead of a confused model turn. */
export const unsupportedMedia: Step<MessageContext> = async (ctx, next) => {
  if (ctx.msg.unsupportedMedia && !ctx.msg.text.trim() && ctx.msg.imageUrls.length === 0) {
    ctx.out.push({ type: 'notice', text: UNSUPPORTED_MEDIA_TEXT, reason: 'unsupported-media' });
    return;
  }
  await next();
};
