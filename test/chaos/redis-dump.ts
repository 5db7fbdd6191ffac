/**
 * What Redis holds for chats whose claims are still open at the end of a cluster run: their line
 * (`chat:<key>:next`, `done`, `sdone`, the places `t:<n>` and `s:<n>` with what is left of their
 * TTL), their send windows and anything else under the run's prefix naming them. Printed before
 * the last instance is killed, so a run that reports a message lost says what it was waiting for.
 */
import { testRedisClient } from '../helpers/redis-server.js';

export async function dumpChatKeys(redisUrl: string, prefix: string, chats: string[]): Promise<string[]> {
  const r = testRedisClient(redisUrl);
  await r.connect();
  const lines: string[] = [];
  try {
    for (const chat of chats) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await r.scan(cursor, 'MATCH', `${prefix}*${chat.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      lines.push(`  redis keys naming ${chat}: ${keys.length}`);
      for (const key of keys.sort().slice(0, 60)) {
        const [type, ttl] = await Promise.all([r.type(key), r.pttl(key)]);
        const value =
          type === 'string' ? await r.get(key) : type === 'zset' ? ((await r.call('ZRANGE', key, '0', '20', 'WITHSCORES')) as string[]).join(' ') : type === 'hash' ? JSON.stringify(await r.hgetall(key)) : `(${type})`;
        lines.push(`    ${key.slice(prefix.length)} ttl ${ttl} ms: ${String(value).slice(0, 200)}`);
      }
    }
  } finally {
    r.disconnect();
  }
  return lines;
}
