import type { MessageContext, Step } from '../pipeline.js';

/** Where a platform user's persona is kept: per platform user, across all their chats. */
export function personaKeyOf(msg: { platform: string; userId: string }): string {
  return `${msg.platform}:${msg.userId}`;
}

/**
 * The sender's persona, once the conversation is known: its name becomes how the character
 * addresses them (`{{user}}`), its description goes into the context (the persona provider).
 */
export const applyPersona: Step<MessageContext> = async (ctx, next) => {
  const persona = await ctx.deps.store.personas.get(personaKeyOf(ctx.msg));
  if (persona) {
    ctx.persona = persona;
    if (persona.name) ctx.userName = persona.name;
  }
  await next();
};
