import type { Step } from '../pipeline.js';
import { resolved } from '../pipeline.js';

/** True when `text` starts with the character's name as a word ("Aria, hi" / "aria: hi"). */
export function addressesByName(text: string, name: string): boolean {
  const t = text.trimStart().toLowerCase();
  const n = name.toLowerCase();
  if (!t.startsWith(n)) return false;
  const after = t.charAt(n.length);
  return after === '' || !/[\p{L}\p{N}_]/u.test(after);
}

/** DMs always answer; groups answer on mention, reply, the character's name, or `engage always`. */
export const engagement: Step = async (ctx, next) => {
  if (ctx.msg.chatType === 'dm') return next();
  const { settings, character } = resolved(ctx);
  const { msg } = ctx;
  if (settings.engage === 'always' || msg.mentioned || msg.repliedToBot || addressesByName(msg.text, character.name)) {
    return next();
  }
};
