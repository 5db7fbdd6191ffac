import type { Redis } from './redis-client.js';

/**
 * A Lua script run atomically in Redis, sent once and then called by its hash (EVALSHA, with
 * EVAL when the server does not know it yet).
 */
export function luaScript(client: Redis, name: string, numberOfKeys: number, lua: string) {
  client.defineCommand(name, { numberOfKeys, lua });
  const call = (client as unknown as Record<string, (...args: Array<string | number>) => Promise<unknown>>)[name]!;
  return (keys: string[], args: Array<string | number>): Promise<unknown> => call.call(client, ...keys, ...args);
}
