import type { Command } from './command.js';
import { resolvedChat } from '../pipeline.js';

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
    return lines.join('\n');
  },
};
