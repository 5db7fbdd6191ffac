import type { Command } from './command.js';
import { REFUSAL_TEXT } from './command.js';
import { resolvedChat } from '../pipeline.js';
import { importFromChat } from './character-import.js';

/**
 * `/character` lists and shows; `/character <name>` switches; `/character import` with a card
 * file adds one (operators, in a DM). In a DM the switch binds this
 * conversation; in a group it binds the chat (admins only). Switching clears the context, so
 * the new character does not continue the old one's lines.
 */
export const characterCommand: Command = {
  name: 'character',
  args: '[name]',
  description: 'show the characters, or switch to one',
  options: [{ name: 'name', description: 'The character to switch to', autocomplete: 'characters' }],
  alsoUnderAdmin: true,
  async run(ctx, args) {
    const { store } = ctx.deps;
    const { conversation, character } = resolvedChat(ctx);
    const wanted = args.join(' ').trim();
    if (args[0]?.toLowerCase() === 'import' && (args.length === 1 || ctx.msg.files?.length)) return importFromChat(ctx);
    if (!wanted || wanted === 'list') {
      const all = await store.characters.listShared(50);
      const list = all.map((c) => `• ${c.name}${c.id === character.id ? ' (current)' : ''}${c.description ? ` — ${c.description}` : ''}`);
      return [`Current character: ${character.name}.`, 'Available:', ...list, 'Switch with /character <name>.'].join('\n');
    }
    const next = await store.characters.findByName(wanted);
    if (!next) return `No character called "${wanted}". Send /character to see the list.`;
    if (next.id === character.id) return `${next.name} is already here.`;
    if (ctx.msg.chatType === 'dm') {
      await store.conversations.setCharacter(conversation.id, next.id);
    } else {
      if (!ctx.isAdmin) return { text: `${REFUSAL_TEXT} (switching the character of a group)`, reason: 'refused', ephemeral: true };
      await store.settings.setBinding(ctx.bindingKeys[0] ?? ctx.chatKey, next.id);
    }
    await store.conversations.clearContext(conversation.id);
    ctx.character = next;
    return { text: `Switched to ${next.name}. ${next.description ?? ''}`.trim(), reason: 'command', changesChat: ctx.msg.chatType !== 'dm' };
  },
};
