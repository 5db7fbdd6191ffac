import type { Command } from './command.js';
import { REFUSAL_TEXT } from './command.js';

/**
 * `/admin character-default <name>`: the character every chat of this platform gets unless it
 * picked its own (the `platform:*` binding). It reaches every server and DM the bot is in, so a
 * chat admin is not enough: only operators listed in ADMIN_USER_IDS may change it.
 */
export const characterDefaultCommand: Command = {
  name: 'character-default',
  args: '<name>',
  description: 'the default character everywhere on this platform (operators only)',
  adminOnly: true,
  operatorOnly: true,
  options: [{ name: 'name', description: 'The character', required: true, autocomplete: 'characters' }],
  async run(ctx, args) {
    const { platform, userId } = ctx.msg;
    if (!ctx.deps.config.adminUserIds.includes(`${platform}:${userId}`)) {
      return { text: `${REFUSAL_TEXT} The platform-wide default needs an operator listed in ADMIN_USER_IDS (${platform}:${userId}).`, reason: 'refused', ephemeral: true };
    }
    const wanted = args.join(' ').trim();
    if (!wanted) return 'Usage: /admin character-default <name>';
    const next = await ctx.deps.store.characters.findByName(wanted);
    if (!next) return `No character called "${wanted}". Send /character to see the list.`;
    await ctx.deps.store.settings.setBinding(`${platform}:*`, next.id);
    return `${next.name} is now the default character on ${platform}. Chats that picked their own keep it.`;
  },
};
