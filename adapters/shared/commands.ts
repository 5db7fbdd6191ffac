/**
 * Helpers for rendering the engine's CommandMenu on a platform (Telegram's command list,
 * Discord's slash command bodies, Slack's subcommands): the menu is the one source, adapters only
 * change its shape.
 */
import type { CommandMenu, MenuEntry } from '../../src/core/command-menu.js';

/**
 * An entry's argument synopsis as anyone may use it: alternatives that only the admin form takes
 * are left out (`on|off|test` → `on|off` when `test` is in `adminArgs`).
 */
export function userSynopsis(e: MenuEntry): string | undefined {
  if (!e.args || !e.adminArgs?.length) return e.args;
  const admin = new Set(e.adminArgs);
  const kept = e.args.split('|').filter((a) => !admin.has(a));
  return kept.length ? kept.join('|') : undefined;
}

/** `start` and `help` first (how people begin), then the rest in the menu's order. */
export function startAndHelpFirst(menu: CommandMenu): MenuEntry[] {
  const first = ['start', 'help'].flatMap((n) => menu.user.filter((e) => e.name === n));
  return [...first, ...menu.user.filter((e) => !first.includes(e))];
}
