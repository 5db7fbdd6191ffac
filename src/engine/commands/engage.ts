import type { Command } from './command.js';

/** `/admin engage mention|always`: answer only when addressed, or every message. */
export const engageCommand: Command = {
  name: 'engage',
  args: 'mention|always',
  description: 'answer when addressed, or always',
  adminOnly: true,
  groupOnly: true,
  options: [{ name: 'mode', description: 'mention or always', required: true, choices: ['mention', 'always'] }],
  async run(ctx, [value]) {
    if (value !== 'mention' && value !== 'always') return 'Usage: /admin engage mention|always';
    await ctx.deps.store.settings.setChat(ctx.chatKey, { engage: value });
    const text = value === 'always' ? 'I will answer every message here.' : 'I will answer when mentioned, replied to, or called by name.';
    return { text, reason: 'command', changesChat: true };
  },
};
