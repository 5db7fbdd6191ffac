/**
 * kill -9 of an instance holding a chat's message mid-turn while the chat's next message arrives
 * at a survivor: the survivor waits in the chat's line behind the dead instance's place, the
 * instance that takes the dead one's message over takes that place too, and the chat's replies
 * come in the order of its messages — not the later message first and the taken-over one after.
 * Also when Redis restarts without its data meanwhile: the line is rebuilt from the claims in the
 * database, and a turn that was waiting behind the dead instance's message asks them too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { waitFor } from '../adapters/telegram/world.js';
import { postUpdate } from '../fakes/telegram-webhook.js';
import { SECRET } from './cluster-world.js';
import { startVictim, type Victim } from './victim.js';

interface Scenario {
  /** The chat's second message reaches the survivor before the kill (it waits in line behind the first), not after. */
  secondBeforeKill?: boolean;
  /** Redis restarts without its data right after the kill. */
  redisLosesData?: boolean;
  /**
   * The platform delivers the first message again, to the survivor, before the victim is known
   * dead (and so before the second message): a duplicate there, which takes the first place the
   * line records for it.
   */
  firstAgainOnSurvivor?: boolean;
}

/** The chat's first message parked on the victim, the victim killed, the second message on the survivor. */
function inOrderAcrossKill(title: string, test: string, chatId: number, s: Scenario): void {
  describe.skipIf(!hasPostgres() || !hasRedis())(title, () => {
    let v: Victim;

    beforeAll(async () => {
      // The victim dies mid-turn on the chat's first message.
      v = await startVictim((text) => text.includes('first'));
    }, 90_000);
    afterAll(async () => {
      await v?.close();
    });

    it(test, async () => {
      const { c } = v;
      const chat = { chat: { id: chatId, type: 'private' as const }, from: { id: chatId } };
      const first = c.telegram.buildUserMessage({ ...chat, text: 'first message' });
      expect((await postUpdate(`${v.child.url}/telegram/webhook`, first, SECRET, false)).status).toBe(200);
      await waitFor(() => v.parked() === 1, 15_000, 'the first message to reach the model on the victim');
      const second = () => c.post(0, c.telegram.buildUserMessage({ ...chat, text: 'second message' }));
      if (s.secondBeforeKill) expect((await second()).status).toBe(200);

      await v.kill();
      // Redis restarts without its data: the chat's line, with its places, is gone.
      if (s.redisLosesData) await c.redis.clear();
      if (s.firstAgainOnSurvivor) expect((await c.post(0, first)).status).toBe(200);
      // The chat's next message reaches the survivor at once, long before the victim is known dead.
      if (!s.secondBeforeKill) expect((await second()).status).toBe(200);

      await waitFor(() => c.telegram.botMessages(chatId).length >= 2, 20_000, () => `both messages to be answered\n${JSON.stringify(c.telegram.botMessages(chatId))}`);
      await c.instances[0]!.engine.drain(5000);
      await c.instances[0]!.adapters[0]!.settled();
      expect(c.telegram.botMessages(chatId).map((m) => m.text)).toEqual(['re: first message', 're: second message']);
    }, 60_000);
  });
}

inOrderAcrossKill("a dead instance's message and its chat's next one", 'are answered in the order they were sent, once each', 802, {});
inOrderAcrossKill(
  "a dead instance's message and its chat's next one, with Redis restarted empty between them",
  'are still answered in the order they were sent: the chat line is rebuilt from the claims',
  803,
  { redisLosesData: true },
);
inOrderAcrossKill(
  "a dead instance's message and its chat's next one waiting behind it, when Redis restarts empty",
  'are still answered in the order they were sent: the waiting turn asks the claims what came first',
  804,
  { secondBeforeKill: true, redisLosesData: true },
);
inOrderAcrossKill(
  "a dead instance's message delivered again to a survivor after Redis restarted empty, and its chat's next one",
  'are still answered in the order they were sent: the duplicate arrival keeps the place it took for the message',
  805,
  { redisLosesData: true, firstAgainOnSurvivor: true },
);
