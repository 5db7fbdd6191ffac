/**
 * Send windows shared through Redis, as two instances see them: a slot held by an instance that
 * died (acquired, never settled) frees itself — in one chat's window as soon as the chat's place
 * in line would (CHAT_LOCK_TTL_MS), since it stops the whole chat; in a bot-wide window later.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hasRedis } from '../helpers/services.js';
import { coordinationPairs } from '../helpers/coordinations.js';

const TTL_MS = 300;
const perSecond = [{ max: 1, windowMs: 1000 }];

describe.skipIf(!hasRedis())('shared send windows across instances', () => {
  const pairs = coordinationPairs(TTL_MS);
  afterEach(() => pairs.close());

  it("frees a dead instance's held slot in a chat's window after CHAT_LOCK_TTL_MS", async () => {
    const [a, b] = await pairs.two();
    const held = await a.sharedWindow!('telegram:1:chat:42', perSecond, 'chat').acquire('high');
    expect(typeof held).toBe('object'); // and a dies holding it: never committed, never released
    const other = b.sharedWindow!('telegram:1:chat:42', perSecond, 'chat');
    expect(typeof (await other.acquire('high'))).toBe('number');
    await new Promise((r) => setTimeout(r, TTL_MS + 50));
    expect(typeof (await other.acquire('high'))).toBe('object');
  });

  it("keeps a bot-wide window's held slot longer: one slot of many holds no chat up", async () => {
    const [a, b] = await pairs.two();
    expect(typeof (await a.sharedWindow!('telegram:1', perSecond).acquire('high'))).toBe('object');
    await new Promise((r) => setTimeout(r, TTL_MS + 50));
    expect(typeof (await b.sharedWindow!('telegram:1', perSecond).acquire('high'))).toBe('number');
  });
});
