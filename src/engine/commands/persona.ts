import type { Command } from './command.js';
import { personaKeyOf } from '../steps/persona.js';

const NAME_MAX = 100;
const DESCRIPTION_MAX = 2000;
const USAGE = 'Usage: /persona, /persona name <name>, /persona set <description>, /persona clear';

/**
 * `/persona`: how the user describes themselves to every character, on this platform and
 * across their chats. The name is what characters call them (`{{user}}`); the description goes
 * into the character's context.
 */
export const personaCommand: Command = {
  name: 'persona',
  args: '[name <name> | set <description> | clear]',
  description: 'who you are to the characters',
  options: [
    { name: 'action', description: 'name, set or clear (nothing: show it)', choices: ['name', 'set', 'clear'] },
    { name: 'text', description: 'Your name, or your description' },
  ],
  async run(ctx, [action, ...rest]) {
    const personas = ctx.deps.store.personas;
    const key = personaKeyOf(ctx.msg);
    const text = rest.join(' ').trim();
    const reply = (t: string) => ({ text: t, reason: 'command' as const, ephemeral: true });
    if (action === undefined) {
      const p = await personas.get(key);
      if (!p) return reply(`You have no persona yet. ${USAGE}`);
      return reply(`Your persona:\nName: ${p.name ?? '(your own)'}\nDescription: ${p.description ?? '(none)'}`);
    }
    if (action === 'clear') {
      await personas.clear(key);
      return reply('Persona cleared: characters see you as yourself again.');
    }
    if (action === 'name' && text) {
      if (text.length > NAME_MAX) return reply(`A persona name is at most ${NAME_MAX} characters.`);
      await personas.set(key, { name: text });
      return reply(`Characters will call you ${text}.`);
    }
    if (action === 'set' && text) {
      if (text.length > DESCRIPTION_MAX) return reply(`A persona description is at most ${DESCRIPTION_MAX} characters.`);
      await personas.set(key, { description: text });
      return reply('Persona description saved.');
    }
    return reply(USAGE);
  },
};
