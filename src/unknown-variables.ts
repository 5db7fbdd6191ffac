import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { distance } from 'fastest-levenshtein';
import { ENV_VARS } from './config.js';
import { PROXY_VARIABLES } from './core/proxy.js';

/** A variable that looks meant for charbridge but is not one of its settings, so it is ignored. */
export interface UnknownVariable {
  name: string;
  /** The setting it most likely meant, if one is close. */
  suggestion?: string;
  /** Set in `.env` but read by Node before `.env` is loaded, so it does nothing there. */
  tooLate?: true;
}

/** Not charbridge's, though a `.env` may well hold them (Node, npm, the OS). */
const OTHERS = /^(NODE_|NPM_|npm_|DOTENV_|UV_|LC_)|^(TZ|LANG|DEBUG|PATH|HOME)$/;
/** In the process environment, only these prefixes are taken as meant for charbridge: others belong to other programs. */
const OURS = /^(OPENAI|TELEGRAM|DISCORD|SLACK|REDIS|MEMORY|PROACTIVE|EMBEDDINGS|WEBHOOK|MODEL|CHARBRIDGE)_/;
/**
 * Not charbridge's settings, but read from the environment by a library it runs, so not ignored:
 * the openai SDK's (an organization or project sent with every model call, extra headers, its own
 * request log) and the pg driver's defaults for what DATABASE_URL leaves out (PGPASSWORD,
 * PGSSLMODE…).
 */
const READ_BY_LIBRARIES = ['OPENAI_ORG_ID', 'OPENAI_PROJECT_ID', 'OPENAI_CUSTOM_HEADERS', 'OPENAI_LOG'];
const PG_DEFAULTS = /^PG[A-Z_]+$/;
/** The proxy settings, read in either case as other tools read them (./core/proxy.ts). */
const isProxySetting = (n: string) => PROXY_VARIABLES.includes(n.toUpperCase());
/** Read by Node as the process starts, before dotenv loads `.env`: in `.env` they change nothing. */
const READ_BY_NODE_AT_START = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'];
/** What Kubernetes sets for each service of the namespace (a service named `redis` gives `REDIS_PORT`, `REDIS_SERVICE_HOST`…). */
const SERVICE_LINKS = /_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

/**
 * Variables that look meant for charbridge but are not among its settings: every name in the
 * `.env` file (`fileKeys`, which only configures charbridge) and names in the environment under
 * one of its platforms' or services' prefixes, less those a library reads itself. A typo such as
 * `TELEGRAM_TOKEN` would otherwise leave the bot silently off. Also what Node reads before `.env`
 * is loaded (a proxy's certificate authority in `NODE_EXTRA_CA_CERTS`), when `.env` sets it.
 */
export function unknownVariables(env: NodeJS.ProcessEnv, fileKeys: readonly string[] = []): UnknownVariable[] {
  const known = [...Object.keys(ENV_VARS), ...PROXY_VARIABLES];
  const names = new Set([
    ...fileKeys.filter((n) => !OTHERS.test(n)),
    ...Object.keys(env).filter((n) => OURS.test(n) && !SERVICE_LINKS.test(n)),
  ]);
  const tooLate = fileKeys.filter((n) => READ_BY_NODE_AT_START.includes(n)).map((name) => ({ name, tooLate: true as const }));
  return [...names]
    .filter((n) => !(n in ENV_VARS) && !READ_BY_LIBRARIES.includes(n) && !PG_DEFAULTS.test(n) && !isProxySetting(n))
    .map((name): UnknownVariable => {
      const suggestion = closest(name, known, READ_BY_LIBRARIES);
      return suggestion ? { name, suggestion } : { name };
    })
    .concat(tooLate)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The names the `.env` file sets (where dotenv read it from), none when there is no file. */
export function envFileKeys(path = process.env.DOTENV_CONFIG_PATH ?? '.env'): string[] {
  return existsSync(path) ? Object.keys(parse(readFileSync(path))) : [];
}

/** One line for the log and the banner. */
export function describeUnknown(v: UnknownVariable): string {
  if (v.tooLate) return `${v.name} in .env does nothing: Node reads it as it starts, before .env is loaded. Set it in the environment charbridge is started with.`;
  return `${v.name} is not a charbridge setting and is ignored${v.suggestion ? `: did you mean ${v.suggestion}?` : ' (see .env.example for every setting).'}`;
}

/**
 * The known name a typo most likely meant: a setting within a third of its length in edits (two
 * at least), or a setting or library's variable that holds all of its words with the same first
 * word (`OPENAI_KEY` → `OPENAI_API_KEY`, `OPENAI_ORG` → `OPENAI_ORG_ID`). Libraries' short names
 * are left out of the edits: `OPENAI_LOG` is two edits from many a typo.
 */
function closest(name: string, known: readonly string[], byWordsToo: readonly string[] = []): string | undefined {
  const upper = name.toUpperCase();
  let best: { name: string; edits: number } | undefined;
  for (const k of known) {
    const edits = distance(upper, k);
    if (!best || edits < best.edits) best = { name: k, edits };
  }
  if (best && best.edits <= Math.max(2, Math.floor(name.length / 3))) return best.name;
  const words = upper.split('_');
  return [...known, ...byWordsToo]
    .filter((k) => k.split('_')[0] === words[0] && words.every((w) => k.split('_').includes(w)))
    .sort((a, b) => a.length - b.length)[0];
}
