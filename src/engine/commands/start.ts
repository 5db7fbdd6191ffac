import type { Command } from './command.js';
import { resolvedChat } from '../pipeline.js';
import { greetingOf } from '../prompt.js';
import { storeGreeting } from '../characters.js';

/**
 * `/start [n]`: the character's greeting (n picks a card's alternate greeting: 2 = the first
 * alternate), stored as its first turn so the model sees it too. Groups get the card's
 * group-only greetings when it has them.
 */
export const startCommand: Command = {
  name: 'start',
  args: '[n]',
  description: "the character's greeting",
  hidden: true,
  async run(ctx, [arg]) {
    const { conversation, character } = resolvedChat(ctx);
    const n = arg !== undefined && /^\d{1,4}$/.test(arg) ? Number(arg) : 1;
    const userName = !ctx.msg.userName && ctx.userName === 'User' ? 'there' : ctx.userName; // a persona's name wins
    const text = greetingOf(character, userName, { chatType: ctx.msg.chatType, n, now: new Date(ctx.deps.clock.now()) });
    await storeGreeting(ctx.deps.store, conversation, character, text);
    return { text, reason: 'greeting' };
  },
};
