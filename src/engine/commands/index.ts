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

export type { Command } from './command.js';
export { REFUSAL_TEXT } from './command.js';
export { CLEARED_TEXT } from './clear.js';

/** The built-in commands plus any the caller adds (the proactive issue adds `proactive`). */
export function createCommandRegistry(extra: Command[] = []): Map<string, Command> {
  const registry = new Map<string, Command>();
  const all = () => [...registry.values()];
  for (const c of [startCommand, helpCommand(all), clearCommand, characterCommand, statusCommand, scopeCommand, engageCommand, limitCommand, characterDefaultCommand, ...extra]) {
    registry.set(c.name, c);
  }
  return registry;
}
