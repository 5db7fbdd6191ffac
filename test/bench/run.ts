/**
 * `npm run bench [-- name… --option value…]`: every benchmark module in this folder (or the named
 * ones), each printing figures as ratios against a floor measured in the same run. Options
 * (`--chats 50` or `--chats=50`) go to every benchmark that runs. Never part of `npm test`.
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
  ['memory', 'memory.ts', 'benchMemory'],
  ['tokens', 'tokens.ts', 'benchTokens'],
  ['lore', 'lore.ts', 'benchLore'],
  ['telegram-load', 'telegram-load.ts', 'benchTelegramLoad'],
  ['telegram-ab', 'telegram-ab.ts', 'benchTelegramAb'],
  ['cluster', 'cluster.ts', 'benchCluster'],
  ['discord-load', 'discord-load.ts', 'benchDiscordLoad'],
  ['slack-load', 'slack-load.ts', 'benchSlackLoad'],
];
const only: string[] = [];
const options: Record<string, string> = {};
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (!a.startsWith('--')) only.push(a);
  else if (a.includes('=')) options[a.slice(2, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);
  else options[a.slice(2)] = args[++i] ?? '';
}
const unknown = only.filter((n) => !suites.some(([name]) => name === n));
if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${suites.map(([n]) => n).join(', ')}`);

for (const [name, file, fn] of suites) {
  if (only.length && !only.includes(name)) continue;
  if (!existsSync(join(here, file))) continue;
  const mod = (await import(`./${file}`)) as Record<string, (options: Record<string, string>) => Promise<Record<string, string | number>>>;
  const bench = mod[fn];
  if (!bench) continue;
  const t = performance.now();
  const figures = await bench(options);
  console.log(`\n## ${name} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${v}`);
}
process.exit(0);
