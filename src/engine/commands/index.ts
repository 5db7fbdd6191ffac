import type { Command } from './command.js';
import { helpCommand } from './help.js';
import { startCommand } from './start.js';
import { clearCommand } from './clear.js';
import { characterCommand } from './character.js';
import { statusCommand } from './status.js';
import { scopeCommand } from './scope.js';
import { engageCommand } from './engage.js';
import { limitCommand } from './limit.js';
import { characterDefaultCommand } from './character-default.js';
import { lorebookCommand } from './lorebook.js';
import { personaCommand } from './persona.js';

export type { Command, CommandResult } from './command.js';
export { REFUSAL_TEXT } from './command.js';
export { CLEARED_TEXT } from './clear.js';

export { commandMenu } from './menu.js';

/**
 * The built-in commands plus any the caller adds (the scheduler adds `proactive`). The order is
 * the order of /help and of every platform's menu.
 */
export function createCommandRegistry(extra: Command[] = []): Map<string, Command> {
  const registry = new Map<string, Command>();
  const all = () => [...registry.values()];
  for (const c of [startCommand, clearCommand, characterCommand, statusCommand, personaCommand, helpCommand(all), scopeCommand, engageCommand, limitCommand, characterDefaultCommand, lorebookCommand, ...extra]) {
    registry.set(c.name, c);
  }
  return registry;
}
