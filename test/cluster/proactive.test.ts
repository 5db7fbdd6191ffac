/**
 * Proactive messages with three instances: the same due conversations seen by three ticks at
 * once are each sent exactly once (each is claimed in the database before it is generated).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { waitFor } from '../adapters/telegram/world.js';
import { startCluster, type Cluster } from './cluster-world.js';

const CHATS = 50;
const MIN = 60_000;

describe.skipIf(!hasPostgres() || !hasRedis())('proactive messages from three instances', () => {
  let c: Cluster;
  let offset = 0;
  beforeAll(async () => {
    c = await startCluster(3, { PROACTIVE_MIN_IDLE_MINUTES: '60', PROACTIVE_CRON: '0 0 1 1 *' }, { clock: { now: () => Date.now() + offset } });
    c.openai.respondWith(({ messages }) => (JSON.stringify(messages).includes('[proactive]') ? 'Thinking of you!' : 'Hi there'));
  });
  afterAll(async () => {
    await c?.close();
  });

  it(`sends each of ${CHATS} due conversations exactly once when three ticks run at once`, async () => {
    for (let i = 0; i < CHATS; i++) {
      const u = c.telegram.buildUserMessage({ chat: { id: 3000 + i, type: 'private' }, from: { id: 3000 + i }, text: `hello ${i}` });
      expect((await c.post(i % 3, u)).status).toBe(200);
    }
    const chats = Array.from({ length: CHATS }, (_, i) => 3000 + i);
    await waitFor(() => chats.every((id) => c.telegram.botMessages(id).length === 1), 20_000, 'every chat answered');
    offset += 61 * MIN;
    // Live instances beat every HEARTBEAT_MS: wait for each to have beaten at the new time. Jumped
    // an hour, their last beats are an hour old, and the ticks would take each other for dead and
    // take over each other's generations (a run that did lost ten chats' messages that way).
    const jumped = Date.now() + offset;
    await expect.poll(async () => (await c.instances[0]!.store.instances.live(jumped)).length, { timeout: 10_000 }).toBe(c.instances.length);
    const ticks = await Promise.all(c.instances.map((r) => r.scheduler.tick()));
    // A failure says which chats were missed and what each tick did, so it can be traced afterwards.
    const missing = () => chats.filter((id) => c.telegram.botMessages(id).length < 2);
    await waitFor(() => missing().length === 0, 20_000, () => `every chat reached (missing ${JSON.stringify(missing())}; ticks ${JSON.stringify(ticks)})`);
    await Promise.all(c.instances.map((r) => r.adapters[0]!.settled()));
    expect(ticks.reduce((n, t) => n + t.sent, 0)).toBe(CHATS);
    for (const id of chats) expect(c.telegram.botMessages(id).map((m) => m.text)).toEqual(['Hi there', 'Thinking of you!']);
  }, 60_000);
});
