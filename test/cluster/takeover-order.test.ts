/**
 * kill -9 of an instance holding a chat's message mid-turn while the chat's next message arrives
 * at a survivor: the survivor waits in the chat's line behind the dead instance's place, the
 * instance that takes the dead one's message over takes that place too, and the chat's replies
 * come in the order of its messages — not the later message first and the taken-over one after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { waitFor } from '../adapters/telegram/world.js';
import { postUpdate } from '../fakes/telegram-webhook.js';
import { SECRET, type Cluster } from './cluster-world.js';
import { startVictim, type Victim } from './victim.js';

describe.skipIf(!hasPostgres() || !hasRedis())("a dead instance's message and its chat's next one", () => {
  let v: Victim;
  let c: Cluster;

  beforeAll(async () => {
    // The victim dies mid-turn on the chat's first message.
    v = await startVictim((text) => text.includes('first'));
    c = v.c;
  }, 90_000);
  afterAll(async () => {
    await v?.close();
  });

  it('are answered in the order they were sent, once each', async () => {
    const chat = { chat: { id: 802, type: 'private' as const }, from: { id: 802 } };
    const first = c.telegram.buildUserMessage({ ...chat, text: 'first message' });
    expect((await postUpdate(`${v.child.url}/telegram/webhook`, first, SECRET, false)).status).toBe(200);
    await waitFor(() => v.parked() === 1, 15_000, 'the first message to reach the model on the victim');

    await v.kill();
    // The chat's next message reaches the survivor at once, long before the victim is known dead.
    expect((await c.post(0, c.telegram.buildUserMessage({ ...chat, text: 'second message' }))).status).toBe(200);

    await waitFor(() => c.telegram.botMessages(802).length >= 2, 20_000, () => `both messages to be answered\n${JSON.stringify(c.telegram.botMessages(802))}`);
    await c.instances[0]!.engine.drain(5000);
    await c.instances[0]!.adapters[0]!.settled();
    expect(c.telegram.botMessages(802).map((m) => m.text)).toEqual(['re: first message', 're: second message']);
  }, 60_000);
});

describe.skipIf(!hasPostgres() || !hasRedis())("a dead instance's message and its chat's next one, with Redis restarted empty between them", () => {
  let v: Victim;
  let c: Cluster;

  beforeAll(async () => {
    v = await startVictim((text) => text.includes('first'));
    c = v.c;
  }, 90_000);
  afterAll(async () => {
    await v?.close();
  });

  it('are still answered in the order they were sent: the chat line is rebuilt from the claims', async () => {
    const chat = { chat: { id: 803, type: 'private' as const }, from: { id: 803 } };
    const first = c.telegram.buildUserMessage({ ...chat, text: 'first message' });
    expect((await postUpdate(`${v.child.url}/telegram/webhook`, first, SECRET, false)).status).toBe(200);
    await waitFor(() => v.parked() === 1, 15_000, 'the first message to reach the model on the victim');

    await v.kill();
    // Redis restarts without its data: the chat's line, with the first message's place, is gone.
    await c.redis.clear();
    expect((await c.post(0, c.telegram.buildUserMessage({ ...chat, text: 'second message' }))).status).toBe(200);

    await waitFor(() => c.telegram.botMessages(803).length >= 2, 20_000, () => `both messages to be answered\n${JSON.stringify(c.telegram.botMessages(803))}`);
    await c.instances[0]!.engine.drain(5000);
    await c.instances[0]!.adapters[0]!.settled();
    expect(c.telegram.botMessages(803).map((m) => m.text)).toEqual(['re: first message', 're: second message']);
  }, 60_000);
});

describe.skipIf(!hasPostgres() || !hasRedis())("a dead instance's message and its chat's next one waiting behind it, when Redis restarts empty", () => {
  let v: Victim;
  let c: Cluster;

  beforeAll(async () => {
    v = await startVictim((text) => text.includes('first'));
    c = v.c;
  }, 90_000);
  afterAll(async () => {
    await v?.close();
  });

  it('are still answered in the order they were sent: the waiting turn asks the claims what came first', async () => {
    const chat = { chat: { id: 804, type: 'private' as const }, from: { id: 804 } };
    const first = c.telegram.buildUserMessage({ ...chat, text: 'first message' });
    expect((await postUpdate(`${v.child.url}/telegram/webhook`, first, SECRET, false)).status).toBe(200);
    await waitFor(() => v.parked() === 1, 15_000, 'the first message to reach the model on the victim');
    // The chat's next message reaches the survivor and waits in line behind the first.
    expect((await c.post(0, c.telegram.buildUserMessage({ ...chat, text: 'second message' }))).status).toBe(200);

    await v.kill();
    // Redis restarts without its data: the line, with both places, is gone.
    await c.redis.clear();

    await waitFor(() => c.telegram.botMessages(804).length >= 2, 20_000, () => `both messages to be answered\n${JSON.stringify(c.telegram.botMessages(804))}`);
    await c.instances[0]!.engine.drain(5000);
    await c.instances[0]!.adapters[0]!.settled();
    expect(c.telegram.botMessages(804).map((m) => m.text)).toEqual(['re: first message', 're: second message']);
  }, 60_000);
});
