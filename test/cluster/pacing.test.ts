/**
 * Telegram allows a bot about 30 messages a second, and a group 20 a minute, however many
 * processes send for it. Three instances answering many chats at once, or one group's turns
 * spread over them, count those windows together in Redis: no 429. (Each counting alone, the
 * same load drew 429s.)
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

  it("keeps one group's per-minute window, and its replies' order, when its turns are answered by three instances in turn", async () => {
    // A group's window scaled down: 6 messages in 1.5 s instead of 20 a minute.
    const limits = { ...LIMITS, groupPerWindow: 6, groupWindowMs: 1500 };
    c = await startCluster(3, {}, { limits, tuning: { ...TUNING, groupWindow: { max: 6, windowMs: 1500, reserve: 1 } } });
    const cl = c;
    const group = { id: -100888, type: 'supergroup' as const, title: 'Crew' };
    const texts = Array.from({ length: 14 }, (_, i) => `@charbridge_test_bot step ${i}`);
    for (const [i, text] of texts.entries()) {
      const update = cl.telegram.buildUserMessage({ chat: group, from: { id: 900 + i }, text });
      expect((await cl.post(i % 3, update)).status).toBe(200);
    }
    const replies = () => cl.telegram.botMessages(group.id).map((m) => m.text);
    await waitFor(() => replies().length === texts.length, 30_000, () => `${texts.length} replies, got ${replies().length}`);
    // Every turn answered once, in order: a turn keeps the group's line until its reply is sent,
    // so a reply waiting for the window on one instance is not overtaken by the next turn's on another.
    expect(replies()).toEqual(texts.map((_, i) => `Echo: User ${900 + i}: step ${i}`));
    expect(cl.telegram.tooManyRequests).toBe(0);
  }, 60_000);
});
