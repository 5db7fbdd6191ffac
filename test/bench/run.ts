/**
 * `npm run bench`: every benchmark module in this folder, each printing figures as ratios
 * against a floor measured in the same run. Never part of `npm test`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const suites: Array<[string, string, string]> = [
  ['engine', 'engine.ts', 'benchEngine'],
  ['http', 'http.ts', 'benchHttp'],
  ['telegram', 'telegram.ts', 'benchTelegram'],
  ['proactive', 'proactive.ts', 'benchProactive'],
  ['dialects', 'dialects.ts', 'benchDialects'],
  ['discord', 'discord.ts', 'benchDiscord'],
  ['slack', 'slack.ts', 'benchSlack'],
  ['store', 'store.ts', 'benchStore'],
];
const only = process.argv.slice(2);

for (const [name, file, fn] of suites) {
  if (only.length && !only.includes(name)) continue;
  if (!existsSync(join(here, file))) continue;
  const mod = (await import(`./${file}`)) as Record<string, () => Promise<Record<string, string | number>>>;
  const bench = mod[fn];
  if (!bench) continue;
  const t = performance.now();
  const figures = await bench();
  console.log(`\n## ${name} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${v}`);
}
process.exit(0);
