import 'dotenv/config';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';
import { ConfigError } from './core/errors.js';
import { openStore, type ApiKey } from './store/index.js';
import { runChat, type ChatIO } from './cli-chat.js';
import { CHARACTERS_USAGE, runCharacters } from './cli-characters.js';
import { describeUnknown, envFileKeys, unknownVariables } from './unknown-variables.js';

/**
 * `npm run cli -- <command>`: operator tasks against the database at DATABASE_URL, without the
 * server running (or alongside it: SQLite's busy timeout lets both write).
 *
 * @example npm run cli -- chat captain-rook
 * @example npm run cli -- keys create --name demo --credits 100
 */

const USAGE = `Usage:
  npm run cli -- chat [character]          talk to a character in this terminal
  npm run cli -- keys create --name <name> [--credits <n>] [--webhook-url <url>] [--webhook-secret <s>]
  npm run cli -- keys list
  npm run cli -- keys disable <id>
  npm run cli -- keys enable <id>
  npm run cli -- keys delete <id>
  npm run cli -- keys credits <id> <n|unlimited>
${CHARACTERS_USAGE}`;

function describe(k: ApiKey): string {
  const credits = k.credits === null ? 'unlimited' : `${k.credits - k.creditsUsed}/${k.credits} left`;
  return `${k.id}  ${k.keyPrefix}…  ${k.name}  ${credits}${k.disabled ? '  DISABLED' : ''}${k.webhookUrl ? `  webhook ${k.webhookUrl}` : ''}`;
}

function parseCredits(raw: string | undefined): number | null {
  if (raw === undefined || raw === 'unlimited') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`credits must be a whole number ≥ 0 or "unlimited" (got ${raw})`);
  return n;
}

/** Run one CLI command; returns the process exit code. `out` receives what to print; `io` is the chat's terminal. */
export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (line: string) => void = console.log,
  io: ChatIO = { input: process.stdin, output: process.stdout },
): Promise<number> {
  if (argv[0] === 'chat' && !argv.includes('--help') && !argv.includes('-h')) return runChat(loadConfig(env), argv.slice(1), io);
  if (argv[0] === 'characters' && !argv.includes('--help') && !argv.includes('-h')) return runCharacters(loadConfig(env), argv.slice(1), out);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      credits: { type: 'string' },
      'webhook-url': { type: 'string' },
      'webhook-secret': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, command, id, arg] = positionals;
  if (values.help || group !== 'keys' || !command || !['create', 'list', 'disable', 'enable', 'credits', 'delete'].includes(command)) {
    out(USAGE);
    return values.help ? 0 : 64;
  }
  const config = loadConfig(env);
  const store = await openStore(config.store.url);
  try {
    switch (command) {
      case 'create': {
        if (!values.name?.trim()) throw new Error('--name is required');
        const { apiKey, key } = await store.apiKeys.create({
          name: values.name.trim(),
          credits: parseCredits(values.credits),
          webhookUrl: values['webhook-url'] ?? null,
          webhookSecret: values['webhook-secret'] ?? null,
        });
        out(`Created ${describe(apiKey)}`);
        out(`Key (shown once, store it now): ${key}`);
        return 0;
      }
      case 'list': {
        const keys = await store.apiKeys.list();
        if (!keys.length) out('No API keys yet. Create one with: npm run cli -- keys create --name demo');
        for (const k of keys) out(describe(k));
        return 0;
      }
      case 'disable':
      case 'enable':
      case 'credits': {
        if (!id) throw new Error(`keys ${command} needs a key id`);
        const patch = command === 'credits' ? { credits: parseCredits(arg) } : { disabled: command === 'disable' };
        if (!(await store.apiKeys.get(id))) throw new Error(`No API key ${id}`);
        const k = await store.apiKeys.update(id, patch);
        out(describe(k!));
        return 0;
      }
      case 'delete': {
        if (!id) throw new Error('keys delete needs a key id');
        if (!(await store.apiKeys.delete(id))) throw new Error(`No API key ${id}`);
        out(`Deleted ${id}`);
        return 0;
      }
      default:
        return 64;
    }
  } finally {
    await store.close();
  }
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (isMain) {
  // A typo in .env leaves its setting unset here too (the offline model, the default database).
  for (const v of unknownVariables(process.env, envFileKeys())) process.stderr.write(`Warning: ${describeUnknown(v)}\n`);
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
