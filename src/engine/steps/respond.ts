import type { Step } from '../pipeline.js';
import { resolved } from '../pipeline.js';
import { runTurn } from '../turn.js';

/** Character prompt → context window → model → persist → deliver (the shared turn). */
export const respond: Step = async (ctx) => {
  const { conversation, character } = resolved(ctx);
  const { msg } = ctx;
  await runTurn(
    ctx.deps,
    {
      conversation,
      character,
      chatType: msg.chatType,
      userName: msg.userName || 'User',
      user: { text: msg.text, imageUrls: msg.imageUrls, authorId: msg.userId, authorName: msg.userName || null, sourceEvent: `${msg.platform}:${msg.eventId}` },
    },
    ctx.out,
  );
};
