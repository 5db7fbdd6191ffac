/**
 * The run's instance logs, read back for the lines that name a message: which instance took it
 * in, when, through which path (live, read back at a start, replayed from a dead instance's
 * session), and where it entered its chat's line. Printed beside a reply out of order, so a case
 * seen once can be traced from the run's own output.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One process's log: a name for the report, and what it wrote. */
export interface InstanceLog {
  name: string;
  text: string;
}

/** The logs of the instances stopped so far (`instance-<n>.log` in `dir`) and of those still up. */
export function instanceLogs(dir: string, running: ReadonlyArray<{ output(): string }>): InstanceLog[] {
  const stopped = readdirSync(dir)
    .filter((f) => /^instance-\d+\.log$/.test(f))
    .map((f) => ({ name: f.replace(/\.log$/, ''), text: readFileSync(join(dir, f), 'utf8') }));
  return [...stopped, ...running.map((r, i) => ({ name: `running-${i + 1}`, text: r.output() }))];
}

/**
 * Every log line naming one of `needles`, in time order, as `hh:mm:ss.mmm instance message
 * (fields)`: the fields kept are the few that say where the message went.
 */
export function linesAbout(logs: readonly InstanceLog[], needles: readonly string[], max = 40): string[] {
  const found: Array<{ time: number; line: string }> = [];
  for (const { name, text } of logs) {
    for (const raw of text.split('\n')) {
      if (!needles.some((n) => raw.includes(n))) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        continue;
      }
      const time = typeof entry.time === 'number' ? entry.time : 0;
      const fields = ['eventKey', 'ticket', 'channelId', 'after', 'first', 'fresh', 'owner']
        .filter((k) => entry[k] !== undefined)
        .map((k) => `${k}=${String(entry[k])}`);
      const named = needles.filter((n) => raw.includes(n));
      found.push({ time, line: `${new Date(time).toISOString().slice(11, 23)} ${name} ${String(entry.msg)} [${named.join(', ')}] ${fields.join(' ')}` });
    }
  }
  return found
    .sort((a, b) => a.time - b.time)
    .slice(0, max)
    .map((f) => f.line);
}
