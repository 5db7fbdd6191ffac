import type { Redis } from './redis-client.js';

type Script = (keys: string[], args: Array<string | number>) => Promise<unknown>;

/** Scripts already defined on each client: objects made per chat ask for the same few scripts again and again. */
const defined = new WeakMap<Redis, Map<string, Script>>();

/**
 * A Lua script run atomically in Redis, sent once and then called by its hash (EVALSHA, with
 * EVAL when the server does not know it yet). Defined once per client and name.
 */
export function luaScript(client: Redis, name: string, numberOfKeys: number, lua: string): Script {
  let scripts = defined.get(client);
  if (!scripts) defined.set(client, (scripts = new Map()));
  const known = scripts.get(name);
  if (known) return known;
  client.defineCommand(name, { numberOfKeys, lua });
  const call = (client as unknown as Record<string, (...args: Array<string | number>) => Promise<unknown>>)[name]!;
  const script: Script = (keys, args) => call.call(client, ...keys, ...args);
  scripts.set(name, script);
  return script;
}
