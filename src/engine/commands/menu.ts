import type { CommandMenu, MenuEntry } from '../../core/command-menu.js';
import type { Command } from './command.js';

const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The registry as a menu for the platforms: what anyone may run, and the subcommands of
 * `/admin` (admin-only commands and admin forms such as `/admin proactive test`), in the
 * registry's order with operator-only commands last.
 */
export function commandMenu(registry: ReadonlyMap<string, Command>): CommandMenu {
  const all = [...registry.values()];
  const user: MenuEntry[] = all
    .filter((c) => !c.adminOnly)
    .map((c) => ({
      name: c.name,
      description: sentence(c.description),
      ...(c.args ? { args: c.args } : {}),
      options: c.options ?? [],
      ...(c.groupOnly ? { groupOnly: true } : {}),
      ...(c.admin ? { adminArgs: c.admin.adminArgs } : {}),
    }));
  const admin: MenuEntry[] = all
    .filter((c) => c.adminOnly || c.admin)
    .map((c) => ({
      name: c.name,
      description: sentence(c.admin?.description ?? c.description),
      ...(c.args ? { args: c.args } : {}),
      options: c.admin?.options ?? c.options ?? [],
      ...(c.groupOnly ? { groupOnly: true } : {}),
      ...(c.operatorOnly ? { operatorOnly: true } : {}),
    }));
  admin.sort((a, b) => Number(a.operatorOnly ?? false) - Number(b.operatorOnly ?? false));
  return { user, admin };
}
