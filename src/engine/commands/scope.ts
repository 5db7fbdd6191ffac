import type { Command } from './command.js';

/** `/admin scope shared|per-user`: one conversation for the group, or one per member. */
export const scopeCommand: Command = {
  name: 'scope',
  args: 'shared|per-user',
  description: 'one shared conversation, or one per member',
  adminOnly: true,
  groupOnly: true,
  options: [{ name: 'mode', description: 'shared or per-user', required: true, choices: ['shared', 'per-user'] }],
  async run(ctx, [value]) {
    if (value !== 'shared' && value !== 'per-user') return 'Usage: /admin scope shared|per-user';
    await ctx.deps.store.settings.setChat(ctx.chatKey, { scope: value });
    const text = value === 'shared' ? 'Scope set: everyone here shares one conversation.' : 'Scope set: each member has their own conversation.';
    return { text, reason: 'command', changesChat: true };
  },
};
