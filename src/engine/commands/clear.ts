import type { Command } from './command.js';
import { resolvedChat } from '../pipeline.js';

export const CLEARED_TEXT = 'Context cleared. I no longer see our earlier messages.';

/** `/clear`: later turns never see earlier ones; the rows stay for history and audit. */
export const clearCommand: Command = {
  name: 'clear',
  description: 'start fresh: forget the conversation so far',
  async run(ctx) {
    await ctx.deps.store.conversations.clearContext(resolvedChat(ctx).conversation.id);
    return CLEARED_TEXT;
  },
};
