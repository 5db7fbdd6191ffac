/**
 * The Discord adapter end to end with real discord.js against the fake Discord and the real
 * engine against the fake model: when a channel message is answered, where the answer goes, what
 * the model sees, and the gateway's failure modes (replayed events, disallowed intents).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { contentText } from '../../fakes/openai.js';
import { seen } from '../../helpers/harness.js';
import { alice, bob, startDiscord, type Setup } from './helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function setup(o: Parameters<typeof startDiscord>[0] = {}): Promise<Setup> {
  s = await startDiscord(o);
  return s;
}

describe('discord adapter: messages', () => {
  it('answers a mention in a guild channel (mention stripped, quoting the user) and ignores the rest', async () => {
    const { fake, h, texts, idle } = await setup();
    const ch = fake.guild.channelId;
    fake.userMessage({ author: bob, channelId: ch, content: 'just chatting among ourselves' });
    const asked = fake.userMessage({ author: alice, channelId: ch, content: 'how are you?', mentionsBot: true });
    await idle(); // both messages and our reply's echo were read and handled: nothing else is coming
    expect(texts(ch)).toEqual(['Echo: alice: how are you?']);
    expect(fake.channelMessages(ch)[0]).toMatchObject({ replyTo: asked.id, username: fake.bot.username });
    expect(h.fake.requests).toHaveLength(1); // the unaddressed message and our own echo never reached the model
    const conv = await h.store.conversations.getByScope(`discord:${ch}`);
    expect(conv?.chatType).toBe('group');
  });

  it('answers a reply to one of its messages without a mention', async () => {
    const { fake, h, texts } = await setup();
    const ch = fake.guild.channelId;
    fake.userMessage({ author: alice, channelId: ch, content: 'hi', mentionsBot: true });
    await fake.waitFor(() => texts(ch).length === 1);
    const botMsg = fake.channelMessages(ch)[0]!;
    fake.userMessage({ author: alice, channelId: ch, content: 'tell me more', replyToBotMessageId: botMsg.id, replyPing: false });
    await fake.waitFor(() => texts(ch).length === 2);
    expect(texts(ch)[1]).toBe('Echo: alice: tell me more');
    expect(seen(h.fake)).toContain('assistant: Echo: alice: hi'); // same conversation as the channel
  });

  it('treats a thread as its own conversation, answering inside the thread', async () => {
    const { fake, h, texts } = await setup();
    const { channelId: ch, threadId: th } = fake.guild;
    fake.userMessage({ author: alice, channelId: ch, content: 'in the channel', mentionsBot: true });
    await fake.waitFor(() => texts(ch).length === 1);
    fake.userMessage({ author: alice, channelId: th, content: 'in the thread', mentionsBot: true });
    await fake.waitFor(() => texts(th).length === 1);
    expect(texts(th)).toEqual(['Echo: alice: in the thread']);
    expect(seen(h.fake).filter((l) => l.startsWith('user:') || l.startsWith('assistant:'))).toEqual(['user: alice: in the thread']);
    const conv = await h.store.conversations.getByScope(`discord:${ch}:thread:${th}`);
    expect(conv?.chatType).toBe('thread');
  });

  it('always answers in a DM, without quoting, and passes images to the model', async () => {
    const { fake, h, texts } = await setup();
    const dm = fake.userMessage({ author: alice, content: 'hello there' });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    expect(fake.channelMessages(dm.channel_id)[0]).toMatchObject({ content: 'Echo: hello there' });
    expect(fake.channelMessages(dm.channel_id)[0]?.replyTo).toBeUndefined();
    expect(await h.store.conversations.getByScope(`discord:${dm.channel_id}`)).toMatchObject({ chatType: 'dm' });

    const url = 'https://cdn.discordapp.com/attachments/1/2/cat.png';
    fake.userMessage({ author: alice, content: 'look', attachments: [{ url, content_type: 'image/png' }, { url: 'https://cdn.discordapp.com/x/notes.pdf', content_type: 'application/pdf' }] });
    await fake.waitFor(() => texts(dm.channel_id).length === 2);
    expect(texts(dm.channel_id)[1]).toBe('Echo: look [images: 1]');
    const last = h.fake.requests.at(-1)!.body.messages.at(-1);
    expect(JSON.stringify(last.content)).toContain(url);
    expect(contentText(last.content)).toBe('look [images: 1]');
  });

  it('a MESSAGE_CREATE replayed after a gateway resume gets no second reply', async () => {
    const { fake, h, texts, handled, idle } = await setup({ tuning: { messageCacheSize: 0 } }); // discord.js re-emits uncached messages
    const ch = fake.guild.channelId;
    const once = fake.userMessage({ author: alice, channelId: ch, content: 'once', mentionsBot: true });
    await fake.waitFor(() => texts(ch).length === 1);
    fake.replayOnResume(5); // the user's message, our reply's echo and its updates
    fake.disconnect(4000);
    await fake.waitFor(() => handled.filter((m) => m.eventId === once.id).length === 2); // the engine saw it twice…
    fake.userMessage({ author: alice, channelId: ch, content: 'twice?', mentionsBot: true });
    await idle(); // the replayed events and the new message were all read and answered
    expect(texts(ch)).toEqual(['Echo: alice: once', 'Echo: alice: twice?']);
    expect(h.fake.requests).toHaveLength(2); // …and answered it once
    expect(fake.gatewayStats()).toMatchObject({ identifies: 1, resumes: 1 });
  });

  it('start() fails with a clear error when the Message Content intent is not enabled (close 4014)', async () => {
    const { adapter, fake } = await setup({ fake: { privilegedIntentsEnabled: false }, start: false });
    const err = await adapter.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/4014/);
    expect((err as Error).message).toMatch(/Developer Portal.*Bot.*Privileged Gateway Intents.*Message Content/);
    await fake.waitFor(() => fake.gatewayLog.some((e) => e.op === -1));
    expect(fake.gatewayLog.filter((e) => e.op === -1).map((e) => e.closeCode)).toEqual([4014]);
  });

  it('delivers a proactive message to a DM through adapter.deliver', async () => {
    const { fake, h, texts, scheduler } = await setup();
    const dm = fake.userMessage({ author: alice, content: 'exam tomorrow' });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    h.fake.respondWith(({ messages }) => (JSON.stringify(messages).includes('[proactive]') ? 'Hey, how did the exam go?' : 'Good luck!'));
    const conv = (await h.store.conversations.getByScope(`discord:${dm.channel_id}`))!;
    const r = await scheduler.sendNow(conv.id);
    expect(r.sent).toBe(true);
    await fake.waitFor(() => texts(dm.channel_id).length === 2);
    expect(texts(dm.channel_id)[1]).toBe('Hey, how did the exam go?');
  });

  it('with DISCORD_CHARACTER_WEBHOOKS the character speaks through its own webhook, and replies to it count', async () => {
    const { fake, texts } = await setup({ config: { characterWebhooks: true } });
    const { channelId: ch, threadId: th } = fake.guild;
    fake.userMessage({ author: alice, channelId: ch, content: 'hi', mentionsBot: true });
    await fake.waitFor(() => texts(ch).length === 1);
    const first = fake.channelMessages(ch)[0]!;
    expect(first).toMatchObject({ content: 'Echo: alice: hi', username: 'Aria', avatarUrl: 'http://img.test/aria.png' });
    expect(first.webhookId).toBeDefined();

    fake.userMessage({ author: alice, channelId: ch, content: 'and you?', replyToBotMessageId: first.id, replyPing: false });
    await fake.waitFor(() => texts(ch).length === 2);
    expect(fake.channelMessages(ch)[1]).toMatchObject({ content: 'Echo: alice: and you?', webhookId: first.webhookId });

    fake.userMessage({ author: alice, channelId: th, content: 'thread', mentionsBot: true });
    await fake.waitFor(() => texts(th).length === 1);
    expect(fake.channelMessages(th)[0]).toMatchObject({ username: 'Aria', webhookId: first.webhookId });
    expect(fake.calls.filter((c) => c.method === 'POST' && c.path === `/channels/${ch}/webhooks`)).toHaveLength(1); // created once, reused
  });

  it('with DISCORD_CHARACTER_WEBHOOKS a proactive message speaks as the character in a channel, as the bot in a DM (no webhooks there)', async () => {
    const { fake, adapter, texts } = await setup({ config: { characterWebhooks: true } });
    const dm = fake.userMessage({ author: alice, content: 'hi' });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    await adapter.deliver({ key: { platform: 'discord', chatId: dm.channel_id }, text: 'Morning!', characterName: 'Aria' });
    await adapter.deliver({ key: { platform: 'discord', chatId: fake.guild.channelId }, text: 'Hello, channel.', characterName: 'Aria' });
    expect(fake.channelMessages(dm.channel_id).at(-1)).toMatchObject({ content: 'Morning!', username: fake.bot.username });
    expect(fake.channelMessages(fake.guild.channelId).at(-1)).toMatchObject({ content: 'Hello, channel.', username: 'Aria' });
  });
});
