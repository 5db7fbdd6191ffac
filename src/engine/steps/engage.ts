import type { MessageContext, Step } from '../pipeline.js';
import { resolvedChat } from '../pipeline.js';

/** True when `text` starts with the character's name as a word ("Aria, hi" / "aria: hi"). */
export function addressesByName(text: string, name: string): boolean {
  const t = text.trimStart().toLowerCase();
  const n = name.toLowerCase();
  if (!t.startsWith(n)) return false;
  const after = t.charAt(n.length);
  return after === '' || !/[\p{L}\p{N}_]/u.test(after);
}

/** DMs always answer; groups answer on mention, reply, the character's name, or `engage always`. */
export const engagement: Step<MessageContext> = async (ctx, next) => {
  if (ctx.msg.chatType === 'dm') return next();
  const { settings, character } = resolvedChat(ctx);
  const { msg } = ctx;
  if (settings.engage === 'always' || msg.mentioned || msg.repliedToBot || addressesByName(msg.text, character.name)) {
    return next();
  }
};
