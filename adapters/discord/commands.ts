/**
 * Discord's application commands for charbridge: their registration bodies (plain API JSON, so
 * this file needs no SDK) and the mapping from an invoked slash command to the engine's text
 * command. The engine owns every command's meaning — `/admin scope per-user` typed in a channel
 * and picked from Discord's menu run the same code — so the slash layer is only syntax: options
 * with choices and autocomplete instead of free text, all derived from the engine's CommandMenu.
 */
import type { CommandMenu, CommandOption, MenuEntry } from '../../src/core/command-menu.js';

/** Manage Server (Manage Guild), 1 << 5: who sees `/admin` in Discord's menu. Re-checked on use. */
export const MANAGE_GUILD = 1n << 5n;

/** Interaction contexts: 0 = guild, 1 = the bot's DM. */
const GUILD_ONLY = [0];
const GUILD_AND_DM = [0, 1];

const STRING = 3;
const SUBCOMMAND = 1;
/** Discord's limit for command and option descriptions. */
const MAX_DESCRIPTION = 100;

const clip = (s: string) => (s.length <= MAX_DESCRIPTION ? s : `${s.slice(0, MAX_DESCRIPTION - 1)}…`);

/** `/chat`: an ordinary message to the character, for people who prefer the menu to a mention. */
const CHAT = {
  name: 'chat',
  description: 'Say something to the character',
  contexts: GUILD_AND_DM,
  options: [{ type: STRING, name: 'message', description: 'What you want to say', required: true, max_length: 4000 }],
};

function option(o: CommandOption) {
  return {
    type: STRING,
    name: o.name,
    description: clip(o.description),
    ...(o.required ? { required: true } : {}),
    ...(o.choices ? { choices: o.choices.map((v) => ({ name: v, value: v })) } : {}),
    ...(o.maxLength ? { max_length: o.maxLength } : {}),
    ...(o.autocomplete ? { autocomplete: true } : {}),
  };
}

const options = (e: MenuEntry) => (e.options.length ? { options: e.options.map(option) } : {});

/**
 * The bodies sent with `PUT /applications/:app/commands` (or the guild variant): `/chat` first,
 * then the engine's user commands (`/start` is Telegram's; Discord has no use for it), then
 * `/admin` with the admin commands as subcommands, shown to Manage Server holders.
 */
export function discordCommands(menu: CommandMenu): object[] {
  const user = menu.user
    .filter((e) => e.name !== 'start')
    .map((e) => ({ name: e.name, description: clip(e.description), contexts: e.groupOnly ? GUILD_ONLY : GUILD_AND_DM, ...options(e) }));
  const admin = menu.admin.length
    ? [
        {
          name: 'admin',
          description: 'Server settings for the character (Manage Server)',
          default_member_permissions: MANAGE_GUILD.toString(),
          contexts: GUILD_ONLY,
          options: menu.admin.map((e) => ({ type: SUBCOMMAND, name: e.name, description: clip(e.description), ...options(e) })),
        },
      ]
    : [];
  return [CHAT, ...user, ...admin];
}

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

/** The menu entry an invocation names: a user command, or an `/admin` subcommand. */
function entryOf(menu: CommandMenu, c: { name: string; subcommand: string | null }): MenuEntry | undefined {
  if (c.name === 'admin') return menu.admin.find((e) => e.name === c.subcommand);
  return menu.user.find((e) => e.name === c.name && e.name !== 'start');
}

/**
 * Slash command → the engine's text command. `/chat` is an ordinary message; the rest become
 * `/name args` (or `/admin name args`), the options in the menu's order. Returns null for
 * commands the menu does not have (stale registrations).
 *
 * An admin form reached through one of the user command's `adminArgs` (`/admin proactive test`)
 * acts now — it has the character write — so it is deferred at once, like `/chat`.
 *
 * @example toEngineText(menu, { name: 'admin', subcommand: 'scope', options: { mode: 'per-user' } }) // { text: '/admin scope per-user', … }
 */
export function toEngineText(menu: CommandMenu, c: SlashInvocation): MappedCommand | null {
  const opt = (k: string) => {
    const v = c.options[k];
    return v === undefined ? '' : String(v).trim();
  };
  // Deferred at once: the model is about to be asked. (`/chat message:/clear` runs /clear, as typed.)
  if (c.name === 'chat') return { text: opt('message'), callsModel: true };
  const e = entryOf(menu, c);
  if (!e) return null;
  const args = e.options.map((o) => opt(o.name)).filter(Boolean);
  if (c.name !== 'admin') return { text: [`/${e.name}`, ...args].join(' '), callsModel: false };
  const acts = menu.user.find((u) => u.name === e.name)?.adminArgs?.includes(args[0] ?? '') ?? false;
  return { text: ['/admin', e.name, ...args].join(' '), callsModel: acts };
}

/** Whether the focused option offers character names as the user types. */
export function autocompletesCharacters(menu: CommandMenu, c: { name: string; subcommand: string | null; focused: string }): boolean {
  return entryOf(menu, c)?.options.find((o) => o.name === c.focused)?.autocomplete === 'characters';
}

/** Up to 25 names (Discord's cap) matching what was typed: prefix matches first, then substrings. */
export function characterChoices(all: string[], typed: string): Array<{ name: string; value: string }> {
  const q = typed.trim().toLowerCase();
  const starts = all.filter((n) => n.toLowerCase().startsWith(q));
  const contains = all.filter((n) => !n.toLowerCase().startsWith(q) && n.toLowerCase().includes(q));
  return [...starts, ...contains].slice(0, 25).map((n) => ({ name: n.slice(0, 100), value: n.slice(0, 100) }));
}
