/**
 * Discord after a crash: a reply the dead process had already posted, and which the next process
 * sends again (its claim was never marked done), shows up once. Discord dedupes a post by its
 * nonce when `enforce_nonce` is set; the fake does the same, so these tests count messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { redeliver } from '../../../src/runtime.js';
import { DeliveryRouter } from '../../../src/scheduler/index.js';
import { alice, startDiscord, type Setup } from './helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const posts = (setup: Setup, channelId: string) => setup.fake.calls.filter((c) => c.method === 'POST' && c.path === `/channels/${channelId}/messages`);

/** The first message's claim as a process leaves it that died after its reply landed, before marking it done. */
async function diedBeforeMark(setup: Setup): Promise<void> {
  const msg = setup.handled[0]!;
  await setup.h.store.db
    .updateTable('processed_events')
    .set({ state: 'processing', payload: JSON.stringify(msg), owner: 'a-process-that-died' })
    .where('event_id', '=', msg.eventId)
    .execute();
}

/** Alice's DM, and a proactive message the scheduler sent there (Discord has it). */
async function proactiveSent() {
  s = await startDiscord();
  const { fake, h, scheduler, texts } = s;
  const dm = fake.userMessage({ author: alice, content: 'exam tomorrow' });
  await fake.waitFor(() => texts(dm.channel_id).length === 1);
  h.fake.respondWith(() => 'How did the exam go?');
  const conv = (await h.store.conversations.getByScope(`discord:${dm.channel_id}`))!;
  expect((await scheduler.sendNow(conv.id)).sent).toBe(true);
  await fake.waitFor(() => texts(dm.channel_id).length === 2);
  return { setup: s, conv, channelId: dm.channel_id as string };
}

describe('discord adapter: a reply sent again after a crash', () => {
  it('is shown once when the dead process had posted it but not marked it done', async () => {
    s = await startDiscord();
    const { fake, h, adapter, texts, idle } = s;
    const dm = fake.userMessage({ author: alice, content: 'still there?' });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    await idle();
    // Its claim is marked done once the post is answered, in the background: let that land
    // first, or it would land after the "crash" below and leave nothing to recover.
    expect(await h.engine.drain(5000)).toBe(true);
    // The process died after Discord accepted the post, before the claim was marked done.
    await diedBeforeMark(s);

    expect(await h.engine.recover((m, events) => redeliver([adapter], m, events))).toBe(1);
    await idle();
    expect(texts(dm.channel_id)).toEqual(['Echo: still there?']);
    const [live, again] = posts(s, dm.channel_id);
    expect(again, 'the recovery posted too').toBeDefined();
    expect(again!.body).toMatchObject({ nonce: live!.body.nonce, enforce_nonce: true });
    expect(h.fake.requests).toHaveLength(1); // the stored reply was sent, the model not asked again
  });

  it('brings a preview the crash cut short up to the whole reply, each part of a long one once', async () => {
    s = await startDiscord();
    const { fake, adapter, texts } = s;
    const dm = fake.userMessage({ author: alice, content: 'tell me a story' });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    const key = { platform: 'discord' as const, chatId: dm.channel_id };
    const story = `${'Once upon a time. '.repeat(150)}The end.`; // two messages' worth (2,000 characters each)
    // The dead process had shown a preview of the first part only.
    await adapter.deliver({ key, text: 'Once upon a', characterName: 'Aria', dedupeKey: 'story-event' });
    await adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'story-event' });
    const shown = texts(dm.channel_id).slice(1);
    expect(shown).toHaveLength(2);
    expect(shown.join(' ').replace(/\s+/g, ' ')).toBe(story.replace(/\s+/g, ' ').trim());
    expect(fake.channelMessages(dm.channel_id)[1]!.edits).toBe(1); // the preview, edited, not posted again

    // Sent once more in full: nothing new appears, and nothing needs editing.
    await adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'story-event' });
    expect(texts(dm.channel_id).slice(1)).toEqual(shown);
    expect(fake.channelMessages(dm.channel_id).map((m) => m.edits)).toEqual([0, 1, 0]);
    // Without a key (nothing says it is the same text) a send is a new message.
    await adapter.deliver({ key, text: 'Hello again', characterName: 'Aria' });
    await adapter.deliver({ key, text: 'Hello again', characterName: 'Aria' });
    expect(texts(dm.channel_id).slice(3)).toEqual(['Hello again', 'Hello again']);
  });

  it('through a character webhook (no nonce): the posts its reply noted are edited, not posted again', async () => {
    s = await startDiscord({ config: { characterWebhooks: true }, marks: true });
    const { fake, h, adapter, texts, idle } = s;
    const ch = fake.guild.channelId;
    // Long enough to stream: a preview posted through the webhook, then edits.
    const reply = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');
    h.fake.respondWith(reply);
    h.fake.setChunkDelay(15);
    fake.userMessage({ author: alice, channelId: ch, content: 'talk to me', mentionsBot: true });
    await fake.waitFor(() => texts(ch)[0] === reply);
    await idle();
    expect(await h.engine.drain(5000)).toBe(true);
    expect(fake.channelMessages(ch)[0]!.webhookId).toBeDefined();
    expect(fake.channelMessages(ch)[0]!.edits).toBeGreaterThan(0);
    // The process died after the last edit landed, before the claim was marked done.
    await diedBeforeMark(s);

    const before = fake.calls.length;
    expect(await h.engine.recover((m, events) => redeliver([adapter], m, events))).toBe(1);
    await idle();
    expect(texts(ch)).toEqual([reply]);
    const again = fake.calls.slice(before).filter((c) => c.path.startsWith('/webhooks/'));
    expect(again.map((c) => c.method)).toEqual(['PATCH']); // edited through the webhook, not posted beside it
  });

  it('a proactive message its process was sending when it died is sent again, and shows once', async () => {
    const { setup, conv, channelId } = await proactiveSent();
    const { h, scheduler, texts } = setup;
    // The process died before marking it delivered.
    const row = (await h.store.proactive.outboxFor(conv.id))[0]!;
    await h.store.db.updateTable('proactive_outbox').set({ state: 'sending', owner: 'died-mid-send' }).where('id', '=', row.id).execute();
    await scheduler.tick();
    expect((await h.store.proactive.outboxFor(conv.id))[0]).toMatchObject({ state: 'delivered', attempts: 3 }); // 1 before the rewind, 1 for the send cut off, 1 for this one
    expect(posts(setup, channelId)).toHaveLength(3); // sent again…
    expect(texts(channelId)).toEqual(['Echo: exam tomorrow', 'How did the exam go?']); // …and shown once
  });

  it('a proactive message retried after a lost response is posted once', async () => {
    const { setup, conv, channelId } = await proactiveSent();
    const { h, texts } = setup;
    // The scheduler's retry of the same stored message (its delivery seemed to fail) sends it again.
    const stored = (await h.store.messages.newest(conv.id, { limit: 1 }))[0]!;
    const character = (await h.store.characters.findByName('Aria'))!;
    await new DeliveryRouter(undefined, [setup.adapter]).deliver(conv, character, stored, { retry: true });
    expect(texts(channelId)).toEqual(['Echo: exam tomorrow', 'How did the exam go?']);
    expect(posts(setup, channelId)).toHaveLength(3);
  });
});
