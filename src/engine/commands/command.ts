import type { NoticeReason } from '../../core/types.js';
import type { TurnContext } from '../pipeline.js';

/** A chat command: one file each, platform-neutral, answered with a notice. */
export interface Command {
  name: string;
  /** Argument synopsis for /help, e.g. `on|off`. */
  args?: string;
  description: string;
  /** Only chat admins (platform admins or ADMIN_USER_IDS) may run it; reachable as `/admin <name>` too. */
  adminOnly?: boolean;
  /** Meaningless in a DM (scope, engage…). */
  groupOnly?: boolean;
  /** Hidden from /help (aliases such as /start). */
  hidden?: boolean;
  run(ctx: TurnContext, args: string[]): Promise<string | { text: string; reason: NoticeReason; ephemeral?: boolean }>;
}

export const REFUSAL_TEXT = 'Only chat admins can do that.';
