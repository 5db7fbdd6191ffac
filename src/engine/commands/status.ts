import type { Command } from './command.js';
import { resolvedChat } from '../pipeline.js';
import { loreReportOf } from '../lore-context.js';

/** `/status`: which conversation this is, who speaks, the settings and what it has used. */
export const statusCommand: Command = {
  name: 'status',
  description: 'conversation, character and usage',
  async run(ctx) {
    const { conversation, character, settings } = resolvedChat(ctx);
    const usage = await ctx.deps.store.usage.forConversation(conversation.id);
    const lines = [
      `Conversation: ${conversation.id}`,
      `Character: ${character.name}`,
      `Model: ${character.model ?? ctx.deps.model.label}${ctx.deps.model.offline ? ' (built-in offline model)' : ''}`,
    ];
    if (ctx.msg.chatType !== 'dm') {
      lines.push(`Scope: ${settings.scope} · Engage: ${settings.engage} · Limit: ${settings.userLimitPerMin ?? ctx.deps.config.userPerMin}/min per user`);
    }
    lines.push(`Usage: ${usage.turns} replies, ${usage.promptTokens + usage.completionTokens} tokens`);
    // Authors debug their books here: what fired on the last turn, and why (or why it was dropped).
    const lore = await loreReportOf(ctx.deps.store, conversation.id);
    if (lore) lines.push(lore.lines.length ? `Lorebook, last turn:\n${lore.lines.join('\n')}` : 'Lorebook, last turn: nothing fired');
    return lines.join('\n');
  },
};
