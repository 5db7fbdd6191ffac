import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { DeliveryRouter, ProactiveScheduler } from '../../src/scheduler/index.js';
import { createTelegramAdapter, type TelegramAdapter } from '../../adapters/telegram/index.js';
import { commandMenu } from '../../src/engine/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import { SCALED_LIMITS, SCALED_TUNING, waitFor } from '../adapters/telegram/world.js';
import { defaults, MIN } from './helpers.js';

let fake: FakeTelegram;
let h: Harness;
let adapter: TelegramAdapter;
afterEach(async () => {
  await adapter.stop();
  await h.close();
  await fake.close();
});

/** Real telegraf + real engine + scheduler, with Telegram's limits scaled 20× on both sides. */
async function world() {
  const clock = new ManualClock();
  fake = await startFakeTelegram({ limits: SCALED_LIMITS });
  h = await startHarness({ clock, maxRetries: 0 });
  const delivery = new DeliveryRouter();
  const scheduler = ProactiveScheduler.attach({ engine: h.engine, store: h.store, clock, log: h.log, target: delivery }, { defaults, parallel: 32 });
  h.fake.respondWith(({ messages }) => (JSON.stringify(messages).includes('[proactive]') ? 'Hey! Just thinking about our chat.' : 'Nice to meet you.'));
  adapter = createTelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot }, { handler: h.engine, log: h.log, commands: commandMenu(h.engine.commands), tuning: SCALED_TUNING });
  await adapter.start();
  await waitFor(() => fake.pendingPolls > 0);
  delivery.addAdapters([adapter]);
  return { clock, scheduler };
}

describe('proactive delivery on Telegram', () => {
  it('reaches 25 private chats at once through the outbound budget with every message delivered', async () => {
    const { clock, scheduler } = await world();
    for (let i = 1; i <= 25; i++) fake.userMessage({ chat: { id: 1000 + i, type: 'private' }, from: { id: 1000 + i, first_name: `U${i}` }, text: 'hello' });
    await waitFor(() => fake.botMessages(1025).length === 1 && Array.from({ length: 25 }, (_, i) => fake.botMessages(1001 + i).length).every((n) => n === 1));
    clock.advance(defaults.minIdleMinutes * MIN);
    const report = await scheduler.tick();
    expect(report).toMatchObject({ sent: 25, delivered: 25 });
    for (let i = 1; i <= 25; i++) expect(fake.botMessages(1000 + i).map((m) => m.text)).toEqual(['Nice to meet you.', 'Hey! Just thinking about our chat.']);
  });

  it('paces a burst of proactive messages into one group under its per-minute limit, losing none', async () => {
    const { scheduler } = await world();
    const group = { id: -100555, type: 'supergroup' as const, title: 'Crew' };
    fake.setChatMember(group.id, 7, 'administrator');
    fake.userMessage({ chat: group, from: { id: 7, first_name: 'Admin' }, text: '/admin proactive on' });
    await waitFor(() => fake.botMessages(group.id).length === 1);
    const conv = (await h.store.conversations.getByScope(`telegram:${group.id}`))!;
    const sends = 24; // more than the 20-per-window group limit
    for (let i = 0; i < sends; i++) expect((await scheduler.sendNow(conv.id)).sent).toBe(true);
    expect(fake.botMessages(group.id)).toHaveLength(1 + sends);
    expect((await h.store.proactive.outboxFor(conv.id)).every((o) => o.state === 'delivered')).toBe(true);
    // The budget kept inside the group window: no more than 20 sends in any window of the fake's clock.
    const times = fake.calls.filter((c) => c.method === 'sendMessage' && c.ok && Number(c.params.chat_id) === group.id).map((c) => c.at);
    for (let i = 20; i < times.length; i++) expect(times[i]! - times[i - 20]!).toBeGreaterThanOrEqual(SCALED_LIMITS.groupWindowMs! - 5);
  });
});
