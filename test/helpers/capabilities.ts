import { spawnSync } from 'node:child_process';

/**
 * A command to run node under so that it lacks `capabilities` (root's powers: `net_bind_service`,
 * `dac_override`…): root has them taken away by setpriv, any other user never had them. Returns
 * the prefix once `probe` (a `node -e` script printing the error code it met) prints `code` under
 * it, and undefined when node keeps the power all the same (setpriv missing, a granted
 * capability, a lowered port floor), so the caller skips rather than tests nothing.
 */
export function withoutCapabilities(capabilities: string[], probe: string, code: string): string[] | undefined {
  const prefix = process.getuid?.() === 0 ? ['setpriv', `--bounding-set=${capabilities.map((c) => `-${c}`).join(',')}`] : [];
  const [command, ...args] = [...prefix, process.execPath, '-e', probe];
  const run = spawnSync(command!, args, { encoding: 'utf8', timeout: 10_000 });
  return run.stdout?.trim() === code ? prefix : undefined;
}
