/**
 * Discord's application commands for charbridge: their registration bodies (plain API JSON, so
 * this file needs no SDK) and the mapping from an invoked slash command to the engine's text
 * command. The engine owns every command's meaning — `/admin scope per-user` typed in a channel
 * and picked from Discord's menu run the same code — so the slash layer is only syntax: options
 * with choices and autocomplete instead of free text.
 */

/** Manage Server (Manage Guild), 1 << 5: who sees `/admin` in Discord's menu. Re-checked on use. */
export const MANAGE_GUILD = 1n << 5n;

/** Interaction contexts: 0 = guild, 1 = the bot's DM. */
const GUILD_AND_DM = [0, 1];

const STRING = 3;
const SUBCOMMAND = 1;

const choices = (...values: string[]) => values.map((v) => ({ name: v, value: v }));

/** The bodies sent with `PUT /applications/:app/commands` (or the guild variant). */
export const DISCORD_COMMANDS = [
  {
    name: 'chat',
    description: 'Say something to the character',
    contexts: GUILD_AND_DM,
    options: [{ type: STRING, name: 'message', description: 'What you want to say', required: true, max_length: 4000 }],
  },
  { name: 'clear', description: 'Start fresh: forget the conversation so far', contexts: GUILD_AND_DM },
  {
    name: 'character',
    description: 'Show the characters, or switch to one',
    contexts: GUILD_AND_DM,
    options: [{ type: STRING, name: 'name', description: 'The character to switch to', autocomplete: true }],
  },
  { name: 'status', description: 'Conversation, character and usage', contexts: GUILD_AND_DM },
  { name: 'help', description: 'Show the commands', contexts: GUILD_AND_DM },
  {
    name: 'proactive',
    description: 'Let the character message you first',
    contexts: GUILD_AND_DM,
    options: [{ type: STRING, name: 'state', description: 'on or off (empty: show the current state)', choices: choices('on', 'off') }],
  },
  {
    name: 'admin',
    description: 'Server settings for the character (Manage Server)',
    default_member_permissions: MANAGE_GUILD.toString(),
    contexts: [0],
    options: [
      {
        type: SUBCOMMAND, name: 'scope', description: 'One shared conversation here, or one per member',
        options: [{ type: STRING, name: 'mode', description: 'shared or per-user', required: true, choices: choices('shared', 'per-user') }],
      },
      {
        type: SUBCOMMAND, name: 'engage', description: 'Answer when addressed, or every message',
        options: [{ type: STRING, name: 'mode', description: 'mention or always', required: true, choices: choices('mention', 'always') }],
      },
      {
        type: SUBCOMMAND, name: 'limit', description: 'Messages per minute per member in this channel',
        options: [{ type: STRING, name: 'value', description: 'A number from 1 to 1000, or off', required: true, max_length: 4 }],
      },
      {
        type: SUBCOMMAND, name: 'proactive', description: 'Proactive messages in this channel',
        options: [{ type: STRING, name: 'state', description: 'on, off, or test (send one now)', required: true, choices: choices('on', 'off', 'test') }],
      },
      {
        type: SUBCOMMAND, name: 'character-default', description: 'The default character on this Discord bot',
        options: [{ type: STRING, name: 'name', description: 'The character', required: true, autocomplete: true }],
      },
    ],
  },
] as const;

/** An invoked command, SDK-free: its name, subcommand and option values. */
export interface SlashInvocation {
  name: string;
  subcommand: string | null;
  options: Record<string, string | number | boolean>;
}

/** What to hand the engine: the text, and whether it asks the model (so it is deferred at once). */
export interface MappedCommand {
  text: string;
  callsModel: boolean;
}

/**
 * Slash command → the engine's text command. `/chat` is an ordinary message; the rest become
 * `/name args`. Returns null for commands we do not know (stale registrations).
 *
 * @example toEngineText({ name: 'admin', subcommand: 'scope', options: { mode: 'per-user' } }) // { text: '/admin scope per-user', … }
 */
export function toEngineText(c: SlashInvocation): MappedCommand | null {
  const opt = (k: string) => {
    const v = c.options[k];
    return v === undefined ? '' : String(v).trim();
  };
  const join = (...parts: string[]) => parts.filter(Boolean).join(' ');
  switch (c.name) {
    case 'chat':
      // Deferred at once: the model is about to be asked. (`/chat message:/clear` runs /clear, as typed.)
      return { text: opt('message'), callsModel: true };
    case 'clear':
    case 'status':
    case 'help':
      return { text: `/${c.name}`, callsModel: false };
    case 'character':
      return { text: join('/character', opt('name')), callsModel: false };
    case 'proactive':
      return { text: join('/proactive', opt('state')), callsModel: false };
    case 'admin': {
      const sub = c.subcommand ?? '';
      const arg = { scope: 'mode', engage: 'mode', limit: 'value', proactive: 'state', 'character-default': 'name' }[sub];
      if (!arg) return null;
      // `/admin proactive test` asks the model for a proactive line.
      return { text: join('/admin', sub, opt(arg)), callsModel: sub === 'proactive' && opt(arg) === 'test' };
    }
    default:
      return null;
  }
}

/** Option names whose autocomplete offers character names. */
export function autocompletesCharacters(c: { name: string; subcommand: string | null; focused: string }): boolean {
  return c.focused === 'name' && (c.name === 'character' || (c.name === 'admin' && c.subcommand === 'character-default'));
}

/** Up to 25 names (Discord's cap) matching what was typed: prefix matches first, then substrings. */
export function characterChoices(all: string[], typed: string): Array<{ name: string; value: string }> {
  const q = typed.trim().toLowerCase();
  const starts = all.filter((n) => n.toLowerCase().startsWith(q));
  const contains = all.filter((n) => !n.toLowerCase().startsWith(q) && n.toLowerCase().includes(q));
  return [...starts, ...contains].slice(0, 25).map((n) => ({ name: n.slice(0, 100), value: n.slice(0, 100) }));
}
