import type { Command } from './command.js';

/** `/admin limit <n>|off`: messages per minute per member in this chat. */
export const limitCommand: Command = {
  name: 'limit',
  args: '<n>|off',
  description: 'messages per minute per member here',
  adminOnly: true,
  groupOnly: true,
  options: [{ name: 'value', description: 'A number from 1 to 1000, or off', required: true, maxLength: 4 }],
  async run(ctx, [value]) {
    if (value === 'off' || value === 'default') {
      await ctx.deps.store.settings.setChat(ctx.chatKey, { userLimitPerMin: null });
      return { text: `Limit reset to the default (${ctx.deps.config.userPerMin} per minute per member).`, reason: 'command', changesChat: true };
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 1000) return 'Usage: /admin limit <1-1000>|off';
    await ctx.deps.store.settings.setChat(ctx.chatKey, { userLimitPerMin: n });
    return { text: `Limit set: ${n} messages per minute per member.`, reason: 'command', changesChat: true };
  },
};
