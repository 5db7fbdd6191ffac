import type { MessageContext, Step } from '../pipeline.js';
import { resolvedChat } from '../pipeline.js';
import { parseCommand } from './command.js';

/** True when `text` starts with the character's name as a word ("Aria, hi" / "aria: hi"). */
export function addressesByName(text: string, name: string): boolean {
  const t = text.trimStart().toLowerCase();
  const n = name.toLowerCase();
  if (!t.startsWith(n)) return false;
  const after = t.charAt(n.length);
  return after === '' || !/[\p{L}\p{N}_]/u.test(after);
}

/**
 * What is addressed to us goes on: everything in a DM; in groups a /command (always meant for
 * us), a mention, a reply, the character's name, or anything after `engage always`. The rest
 * of a group's chatter stops here, before it costs anyone a message of their rate limit.
 */
export const engagement: Step<MessageContext> = async (ctx, next) => {
  if (ctx.msg.chatType === 'dm' || parseCommand(ctx.msg.text)) return next();
  const { settings, character } = resolvedChat(ctx);
  const { msg } = ctx;
  if (settings.engage === 'always' || msg.mentioned || msg.repliedToBot || addressesByName(msg.text, character.name)) {
    return next();
  }
};
