import type { Command } from './command.js';
import { resolvedChat } from '../pipeline.js';
import { greetingOf } from '../prompt.js';
import { countTokens } from '../../llm/index.js';

/** `/start`: the character's greeting, stored as its first turn so the model sees it too. */
export const startCommand: Command = {
  name: 'start',
  description: "the character's greeting",
  hidden: true,
  async run(ctx) {
    const { conversation, character } = resolvedChat(ctx);
    const text = greetingOf(character, ctx.msg.userName || 'there');
    await ctx.deps.store.messages.append({
      conversationId: conversation.id,
      role: 'assistant',
      kind: 'assistant',
      content: text,
      tokenCount: countTokens(text),
      authorId: character.id,
      authorName: character.name,
    });
    return { text, reason: 'greeting' };
  },
};
