/**
 * The engine's chat commands as data, for platforms that show a menu: Telegram's command list,
 * Discord's slash command bodies, Slack's subcommands. The engine's command registry is the one
 * source; adapters only render it, so a command added there appears everywhere.
 */

/** One argument of a command, for platforms with structured options. */
export interface CommandOption {
  name: string;
  description: string;
  required?: boolean;
  /** The only values allowed (shown as a pick list). */
  choices?: readonly string[];
  maxLength?: number;
  /** Offer the names of the characters as the user types. */
  autocomplete?: 'characters';
}

/** A command as a menu shows it. */
export interface MenuEntry {
  name: string;
  /** One line, sentence case. */
  description: string;
  /** Argument synopsis, e.g. `on|off`. */
  args?: string;
  options: readonly CommandOption[];
  /** Meaningless in a DM. */
  groupOnly?: boolean;
  /** Only operators listed in ADMIN_USER_IDS may run it (platform-wide effect). */
  operatorOnly?: boolean;
  /**
   * First arguments that turn the user command into its admin form (`/proactive test` runs as
   * `/admin proactive test`).
   */
  adminArgs?: readonly string[];
}

export interface CommandMenu {
  /** Commands anyone may run, in the registry's order; `start` included (platforms decide). */
  user: readonly MenuEntry[];
  /** Subcommands of `/admin`, in the registry's order, operator-only ones last. */
  admin: readonly MenuEntry[];
}
