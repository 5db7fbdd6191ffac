import { encodeKey } from '../../core/conversation-key.js';
import type { MessageContext, Step } from '../pipeline.js';
import { conversationKeyFor } from '../scoping.js';
import { resolveCharacter } from '../characters.js';

/** Chat settings → conversation (created on first message) → the character that speaks. */
export const resolveConversation: Step<MessageContext> = async (ctx, next) => {
  const { store, config } = ctx.deps;
  ctx.settings = await store.settings.getChat(ctx.chatKey);
  const key = conversationKeyFor(ctx.msg, ctx.settings);
  ctx.conversation = await store.conversations.getOrCreateByScope(encodeKey(key), {
    platform: ctx.msg.platform,
    chatType: ctx.msg.chatType,
  });
  ctx.character = await resolveCharacter(store, ctx.conversation, ctx.bindingKeys, ctx.msg.platform, config.defaultCharacter);
  await next();
};
