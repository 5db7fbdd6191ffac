/**
 * The engine's commands as subcommands of the one Slack slash command (`/charbridge clear`,
 * `/charbridge scope per-user`), derived from the engine's CommandMenu: what a subcommand means,
 * the usage line, and the engine's answers rewritten to name the subcommands.
 */
import type { CommandMenu } from '../../src/core/command-menu.js';
import { userSynopsis } from '../shared/commands.js';
import { isDmChannel } from './keys.js';

export type Subcommand = { ok: true; sub: string; args: string[]; engineText: string } | { ok: false; text: string };

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `/charbridge <sub> [args]` → the engine's text command: a user command as itself (`clear` →
 * `/clear`), an admin command under `/admin` (`scope per-user` → `/admin scope per-user`), a user
 * command's admin form when its first argument is one of the menu's `adminArgs` (`proactive test`
 * → `/admin proactive test`), and `admin …` as given. No subcommand is `help`.
 */
export function parseSubcommand(menu: CommandMenu, text: string, command: string): Subcommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const sub = (words[0] ?? 'help').toLowerCase();
  const args = words.slice(1);
  if (sub === 'admin') {
    return args.length ? { ok: true, sub: (args[0] ?? '').toLowerCase(), args: args.slice(1), engineText: `/admin ${args.join(' ')}` } : usage(menu, command);
  }
  const user = menu.user.find((e) => e.name === sub);
  const adminForm = user?.adminArgs?.includes(args[0]?.toLowerCase() ?? '') ?? false;
  if (user && !adminForm) return { ok: true, sub, args, engineText: `/${sub} ${args.join(' ')}`.trim() };
  if (user || menu.admin.some((e) => e.name === sub)) return { ok: true, sub, args, engineText: `/admin ${sub} ${args.join(' ')}`.trim() };
  return usage(menu, command, sub);
}

function usage(menu: CommandMenu, command: string, unknown?: string): Subcommand {
  const head = unknown ? `Unknown subcommand "${unknown}". ` : '';
  const user = menu.user.filter((e) => e.name !== 'start').map((e) => [e.name, userSynopsis(e)].filter(Boolean).join(' '));
  const admin = menu.admin.map((e) => {
    const adminArgs = menu.user.find((u) => u.name === e.name)?.adminArgs;
    return adminArgs?.length ? `${e.name} ${adminArgs.join('|')}` : e.name;
  });
  return { ok: false, text: `${head}Try \`${command} help\`: ${user.join(', ')}${admin.length ? `; admins: ${admin.join(', ')}` : ''}.` };
}

/** The engine's texts name its text commands (`/clear`, `/admin scope`); in Slack they are subcommands. */
export function slashify(menu: CommandMenu, text: string, command: string): string {
  const names = menu.user.map((e) => escapeRe(e.name)).join('|');
  const out = text.replace(/(^|[\s(“"'])\/admin\s/g, `$1${command} `);
  return names ? out.replace(new RegExp(`(^|[\\s(“"'])\\/(${names})\\b`, 'g'), `$1${command} $2`) : out;
}

/**
 * Answers concern only the caller (ephemeral), except a change an admin made to a channel for
 * everyone (the engine marks it `changesChat`): that is shown in the channel, so nobody is
 * surprised by the new behaviour.
 */
export function isChannelWide(channel: string, notice: { ephemeral?: boolean | undefined; changesChat?: boolean | undefined }): boolean {
  return !isDmChannel(channel) && notice.changesChat === true && !notice.ephemeral;
}
