import type { Command, MessageContext } from '../engine/index.js';
import { REFUSAL_TEXT } from '../engine/index.js';
import { isCharbridgeError } from '../core/errors.js';
import type { MemoryControl } from './control.js';
import { isSharedChat } from './owner.js';

/** What `/memory` says about how memory is filled, so users know why it stays empty. */
export interface MemoryCommandStatus {
  enabled: boolean;
  /** False with the offline model: only `/memory add` fills memory. */
  extracts: boolean;
}

/**
 * `/memory` lists what the character remembers (numbered); `/memory forget <n>`,
 * `/memory add <text>`, `/memory clear` change it. In a shared group the group's memory is
 * managed by chat admins; in a DM or a per-user scope everyone manages their own.
 */
export function memoryCommand(control: MemoryControl, status: () => MemoryCommandStatus): Command {
  return {
    name: 'memory',
    args: 'forget <n>|add <text>|clear',
    description: 'what I remember about you (forget, add, clear)',
    options: [
      { name: 'action', description: 'forget, add or clear (empty: list)', choices: ['forget', 'add', 'clear'] },
      { name: 'value', description: 'the number to forget, or the text to add' },
    ],
    async run(ctx, args) {
      const conv = ctx.conversation;
      const character = ctx.character;
      if (!conv || !character) return 'Memory is not available here.';
      const s = status();
      if (!s.enabled) return 'Long-term memory is turned off on this server.';
      const [action, ...rest] = args;
      const verb = action?.toLowerCase();
      if (verb && ['forget', 'add', 'clear'].includes(verb) && !mayChange(ctx, conv)) {
        return { text: `${REFUSAL_TEXT} (this group's memory)`, reason: 'refused', ephemeral: true };
      }
      try {
        if (verb === 'add') {
          const text = rest.join(' ');
          if (!text.trim()) return 'Usage: /memory add <something to remember>';
          await control.add(conv, character, text);
          return `${character.name} will remember that.`;
        }
        if (verb === 'forget') {
          const n = Number(rest[0]);
          if (!Number.isInteger(n) || n < 1) return 'Usage: /memory forget <number from /memory>';
          const gone = await control.forgetNumber(conv, character, n);
          return gone ? `Forgotten: ${gone.text}` : `There is no memory number ${n}. See /memory.`;
        }
        if (verb === 'clear') {
          const n = await control.clear(conv, character);
          return { text: `${character.name}'s memory here is empty now (${n} fact${n === 1 ? '' : 's'} forgotten).`, reason: 'command', changesChat: ctx.msg.chatType !== 'dm' };
        }
      } catch (err) {
        if (isCharbridgeError(err) && err.status < 500) return err.message;
        throw err;
      }
      const { facts, summary } = await control.list(conv, character);
      const lines = [facts.length ? `${character.name} remembers:` : `${character.name} remembers nothing about ${ctx.msg.chatType === 'dm' ? 'you' : 'this chat'} yet.`];
      facts.forEach((f, i) => lines.push(`${i + 1}. ${f.text}`));
      if (summary) lines.push(`The story so far: ${summary}`);
      if (!s.extracts) lines.push('(The offline model learns nothing by itself: only /memory add fills memory.)');
      lines.push('Change it with /memory forget <n>, /memory add <text>, /memory clear.');
      return { text: lines.join('\n'), reason: 'command', ephemeral: ctx.msg.chatType !== 'dm' && !isSharedChat(conv) };
    },
  };
}

function mayChange(ctx: MessageContext, conv: NonNullable<MessageContext['conversation']>): boolean {
  return !isSharedChat(conv) || ctx.isAdmin;
}
