/**
 * kill -9 of an instance holding a chat's message mid-turn while the chat's next message arrives
 * at a survivor: the survivor waits in the chat's line behind the dead instance's place, the
 * instance that takes the dead one's message over takes that place too, and the chat's replies
 * come in the order of its messages — not the later message first and the taken-over one after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentText } from '../fakes/openai.js';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { waitFor } from '../adapters/telegram/world.js';
import { postUpdate } from '../fakes/telegram-webhook.js';
import { SECRET, startCluster, type Cluster } from './cluster-world.js';
import { startChildInstance, type ChildInstance } from './child-instance.js';

describe.skipIf(!hasPostgres() || !hasRedis())("a dead instance's message and its chat's next one", () => {
  let c: Cluster;
  let child: ChildInstance | undefined;
  let victimDead = false;
  let parked = 0;

  beforeAll(async () => {
    c = await startCluster(1);
    c.openai.respondWith(async ({ messages }) => {
      const last = contentText(messages.filter((m: any) => m.role === 'user').at(-1)?.content ?? '');
      // While the victim lives, its model call for the first message never answers: it dies mid-turn.
      if (last.includes('first') && !victimDead) {
        parked++;
        await new Promise(() => undefined);
      }
      return `re: ${last}`;
    });
    child = await startChildInstance(c.env);
  }, 90_000);
  afterAll(async () => {
    await child?.kill();
    await c?.close();
  });

  it('are answered in the order they were sent, once each', async () => {
    const chat = { chat: { id: 802, type: 'private' as const }, from: { id: 802 } };
    const first = c.telegram.buildUserMessage({ ...chat, text: 'first message' });
    expect((await postUpdate(`${child!.url}/telegram/webhook`, first, SECRET, false)).status).toBe(200);
    await waitFor(() => parked === 1, 15_000, 'the first message to reach the model on the victim');

    victimDead = true;
    await child!.kill();
    // The chat's next message reaches the survivor at once, long before the victim is known dead.
    expect((await c.post(0, c.telegram.buildUserMessage({ ...chat, text: 'second message' }))).status).toBe(200);

    await waitFor(() => c.telegram.botMessages(802).length >= 2, 20_000, () => `both messages to be answered\n${JSON.stringify(c.telegram.botMessages(802))}`);
    await c.instances[0]!.engine.drain(5000);
    await c.instances[0]!.adapters[0]!.settled();
    expect(c.telegram.botMessages(802).map((m) => m.text)).toEqual(['re: first message', 're: second message']);
  }, 60_000);
});
