/**
 * The engine's commands as Telegram's command menu (`setMyCommands`). Telegram matches typed
 * commands itself (`/cmd` and `/cmd@bot`), so the menu is only what users are offered: `start`
 * and `help` first, the other user commands in the engine's order, then `/admin` with its
 * subcommands named in the description.
 */
import type { CommandMenu } from '../../src/core/command-menu.js';
import { startAndHelpFirst, userSynopsis } from '../shared/commands.js';

export interface TelegramCommand {
  command: string;
  description: string;
}

/** Telegram accepts 1–32 of a–z, 0–9 and `_`; anything else would make setMyCommands refuse the whole list. */
const NAME = /^[a-z0-9_]{1,32}$/;
const MAX_DESCRIPTION = 256;

const clip = (s: string) => (s.length <= MAX_DESCRIPTION ? s : `${s.slice(0, MAX_DESCRIPTION - 1)}…`);

/** @example telegramCommands(commandMenu(engine.commands)) // [{ command: 'start', … }, { command: 'help', … }, …, { command: 'admin', … }] */
export function telegramCommands(menu: CommandMenu): TelegramCommand[] {
  const user = startAndHelpFirst(menu)
    .filter((e) => NAME.test(e.name))
    .map((e) => {
      const args = userSynopsis(e);
      return { command: e.name, description: clip(args ? `${e.description}: /${e.name} ${args}` : e.description) };
    });
  if (!menu.admin.length) return user;
  return [...user, { command: 'admin', description: clip(`Chat admins: /admin ${menu.admin.map((e) => e.name).join('|')} …`) }];
}
