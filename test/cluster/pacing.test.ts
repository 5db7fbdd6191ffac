/**
 * Telegram allows a bot about 30 messages a second, however many processes send for it. Three
 * instances answering many chats at once count that window together in Redis: no 429. (Each
 * counting it alone, the same load drew dozens of 429s.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { waitFor, SCALED_TUNING } from '../adapters/telegram/world.js';
import { startCluster, type Cluster } from './cluster-world.js';

const LIMITS = { chatMinIntervalMs: 50, chatBurst: 1, groupPerWindow: 20, groupWindowMs: 3000, globalPerSecond: 30 };
const TUNING = { ...SCALED_TUNING, globalWindow: { max: 28, windowMs: 1000, reserve: 4 } };
const CHATS = 60;

describe.skipIf(!hasPostgres() || !hasRedis())('the bot-wide send window across three instances', () => {
  let c: Cluster | undefined;
  afterEach(async () => {
    await c?.close();
    c = undefined;
  });

  it(`answers ${CHATS} chats at once without one 429 from a Bot API allowing 30 messages a second`, async () => {
    c = await startCluster(3, {}, { limits: LIMITS, tuning: TUNING });
    const cl = c;
    const updates = Array.from({ length: CHATS }, (_, i) => cl.telegram.buildUserMessage({ chat: { id: 7000 + i, type: 'private' }, from: { id: 7000 + i }, text: `hello ${i}` }));
    const posted = await Promise.all(updates.map((u, i) => cl.post(i % 3, u)));
    expect(posted.every((p) => p.status === 200)).toBe(true);
    const answered = () => updates.filter((_, i) => cl.telegram.botMessages(7000 + i).some((m) => m.text === `Echo: hello ${i}`)).length;
    await waitFor(() => answered() === CHATS, 30_000, () => `${CHATS} chats answered, got ${answered()}`);
    expect(cl.telegram.tooManyRequests).toBe(0);
  }, 60_000);
});
