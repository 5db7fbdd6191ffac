import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { distance } from 'fastest-levenshtein';
import { ENV_VARS } from './config.js';

/** A variable that looks meant for charbridge but is not one of its settings, so it is ignored. */
export interface UnknownVariable {
  name: string;
  /** The setting it most likely meant, if one is close. */
  suggestion?: string;
}

/** Not charbridge's, though a `.env` may well hold them (Node, npm, the OS, proxies). */
const OTHERS = /^(NODE_|NPM_|npm_|DOTENV_|UV_|LC_)|^(TZ|LANG|DEBUG|HTTP_PROXY|HTTPS_PROXY|NO_PROXY|PATH|HOME)$/;
/** In the process environment, only these prefixes are taken as meant for charbridge: others belong to other programs. */
const OURS = /^(OPENAI|TELEGRAM|DISCORD|SLACK|REDIS|MEMORY|PROACTIVE|EMBEDDINGS|WEBHOOK|MODEL|CHARBRIDGE)_/;
/** What Kubernetes sets for each service of the namespace (a service named `redis` gives `REDIS_PORT`, `REDIS_SERVICE_HOST`…). */
const SERVICE_LINKS = /_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

/**
 * Variables that look meant for charbridge but are not among its settings: every name in the
 * `.env` file (`fileKeys`, which only configures charbridge) and names in the environment under
 * one of its platforms' or services' prefixes. A typo such as `TELEGRAM_TOKEN` would otherwise
 * leave the bot silently off.
 */
export function unknownVariables(env: NodeJS.ProcessEnv, fileKeys: readonly string[] = []): UnknownVariable[] {
  const known = Object.keys(ENV_VARS);
  const names = new Set([...fileKeys.filter((n) => !OTHERS.test(n)), ...Object.keys(env).filter((n) => OURS.test(n) && !SERVICE_LINKS.test(n))]);
  return [...names]
    .filter((n) => !(n in ENV_VARS))
    .sort()
    .map((name) => {
      const suggestion = closest(name, known);
      return suggestion ? { name, suggestion } : { name };
    });
}

/** The names the `.env` file sets (where dotenv read it from), none when there is no file. */
export function envFileKeys(path = process.env.DOTENV_CONFIG_PATH ?? '.env'): string[] {
  return existsSync(path) ? Object.keys(parse(readFileSync(path))) : [];
}

/** One line for the log and the banner. */
export function describeUnknown(v: UnknownVariable): string {
  return `${v.name} is not a charbridge setting and is ignored${v.suggestion ? `: did you mean ${v.suggestion}?` : ' (see .env.example for every setting).'}`;
}

/**
 * The known name a typo most likely meant: within a third of its length in edits (two at least),
 * or one that holds all of its words with the same first word (`OPENAI_KEY` → `OPENAI_API_KEY`).
 */
function closest(name: string, known: readonly string[]): string | undefined {
  const upper = name.toUpperCase();
  let best: { name: string; edits: number } | undefined;
  for (const k of known) {
    const edits = distance(upper, k);
    if (!best || edits < best.edits) best = { name: k, edits };
  }
  if (best && best.edits <= Math.max(2, Math.floor(name.length / 3))) return best.name;
  const words = upper.split('_');
  return known
    .filter((k) => k.split('_')[0] === words[0] && words.every((w) => k.split('_').includes(w)))
    .sort((a, b) => a.length - b.length)[0];
}
