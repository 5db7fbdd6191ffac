import type { CommandOption } from '../../core/command-menu.js';
import type { NoticeReason } from '../../core/types.js';
import type { MessageContext } from '../pipeline.js';

/** What a command answers: a plain line, or a notice with its reason and who should see it. */
export type CommandResult =
  | string
  | {
      text: string;
      reason: NoticeReason;
      /** Only the caller should see it (refusals). */
      ephemeral?: boolean;
      /** It changed the chat for everyone (a setting, the character): say so to the whole chat. */
      changesChat?: boolean;
    };

/** A chat command: one file each, platform-neutral, answered with a notice. */
export interface Command {
  name: string;
  /** Argument synopsis for /help, e.g. `on|off`. */
  args?: string;
  description: string;
  /** Only chat admins (platform admins or ADMIN_USER_IDS) may run it; reachable as `/admin <name>` too. */
  adminOnly?: boolean;
  /** Only operators in ADMIN_USER_IDS may run it, because it reaches every chat of the platform. */
  operatorOnly?: boolean;
  /** Meaningless in a DM (scope, engage…). */
  groupOnly?: boolean;
  /** Hidden from /help (aliases such as /start). */
  hidden?: boolean;
  /** Its arguments as structured options, for platforms with menus (Discord's slash commands). */
  options?: readonly CommandOption[];
  /**
   * Also reachable as `/admin <name> …` with these options (proactive: `/admin proactive test`);
   * `adminArgs` are the first arguments that need an admin.
   */
  admin?: { description: string; options: readonly CommandOption[]; adminArgs: readonly string[] };
  /** Accepted as `/admin <name> …` as well, without a menu entry of its own there. */
  alsoUnderAdmin?: boolean;
  run(ctx: MessageContext, args: string[]): Promise<CommandResult>;
}

export const REFUSAL_TEXT = 'Only chat admins can do that.';
