/**
 * Proves the fake Discord against the REAL discord.js 14 client: gateway handshake, events,
 * REST routes, interactions, rate limits (header pacing and injected 429s), resume, forced
 * duplicate events, and the 4014 disallowed-intents failure mode.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ChannelType, Client, Events, GatewayIntentBits, Options, Partials, Routes, type ClientOptions, type Message,
  type TextChannel,
} from 'discord.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from './discord.js';

const { Guilds, GuildMessages, MessageContent, DirectMessages } = GatewayIntentBits;

let fake: FakeDiscord | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await fake?.close();
  fake = undefined;
});

async function setup(o: FakeDiscordOptions = {}, clientOpts: Partial<ClientOptions> = {}, login = true) {
  fake = await startFakeDiscord(o);
  client = new Client({
    intents: [Guilds, GuildMessages, MessageContent, DirectMessages],
    partials: [Partials.Channel],
    rest: { api: fake.restApi },
    ...clientOpts,
  });
  if (login) {
    const ready = new Promise<void>((r) => client!.once(Events.ClientReady, () => r()));
    await client.login(fake.token);
    await ready;
  }
  return { fake, client };
}

const alice = { id: '111111111111111111', username: 'alice' };

function nextMessage(c: Client, pred: (m: Message) => boolean = (m) => !m.author.bot): Promise<Message> {
  return new Promise((resolve) => {
    const on = (m: Message) => {
      if (!pred(m)) return;
      c.off(Events.MessageCreate, on);
      resolve(m);
    };
    c.on(Events.MessageCreate, on);
  });
}

describe('fake discord with real discord.js', () => {
  it('logs in: READY + GUILD_CREATE fill the caches; heartbeats are acked', async () => {
    const { fake, client } = await setup({ heartbeatIntervalMs: 100 });
    expect(client.user?.id).toBe(fake.bot.id);
    expect(client.application?.id).toBe(fake.applicationId);
    const guild = client.guilds.cache.get(fake.guild.id);
    expect(guild?.available).toBe(true);
    expect(guild?.channels.cache.get(fake.guild.channelId)?.type).toBe(ChannelType.GuildText);
    expect(guild?.channels.cache.get(fake.guild.threadId)?.isThread()).toBe(true);
    expect(guild?.members.me?.id).toBe(fake.bot.id);
    expect(fake.calls.map((c) => `${c.method} ${c.path}`)).toContain('GET /gateway/bot');
    await fake.waitFor(() => fake.gatewayLog.some((e) => e.dir === 'out' && e.op === 11));
    expect(fake.gatewayStats()).toMatchObject({ identifies: 1, resumes: 0, liveSockets: 1 });
  });

  it('delivers guild, thread and DM messages to messageCreate', async () => {
    const { fake, client } = await setup();
    let got = nextMessage(client);
    fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'hello guild' });
    let m = await got;
    expect(m.content).toBe('hello guild');
    expect(m.guildId).toBe(fake.guild.id);
    expect(m.channelId).toBe(fake.guild.channelId);
    expect(m.member?.id).toBe(alice.id);

    got = nextMessage(client);
    const sent = fake.userMessage({ author: alice, channelId: fake.guild.threadId, content: 'in thread', mentionsBot: true });
    m = await got;
    expect(m.channel.isThread()).toBe(true);
    expect(m.content).toBe(`<@${fake.bot.id}> in thread`);
    expect(m.mentions.users.has(fake.bot.id)).toBe(true);
    expect(m.id).toBe(sent.id);

    got = nextMessage(client);
    fake.userMessage({ author: alice, content: 'psst', attachments: [{ url: 'http://files.test/a.png', content_type: 'image/png' }] });
    m = await got;
    expect(m.guild).toBeNull();
    expect(m.channel.type).toBe(ChannelType.DM);
    expect(m.content).toBe('psst');
    expect(m.attachments.first()?.name).toBe('a.png');
  });

  it('records channel.send, message.edit, replies, typing; echoes own messages', async () => {
    const { fake, client } = await setup();
    const channel = client.channels.cache.get(fake.guild.channelId) as TextChannel;
    const echoed = nextMessage(client, (m) => m.author.id === fake.bot.id);
    const sent = await channel.send('draft');
    expect((await echoed).id).toBe(sent.id);
    const edited = await sent.edit('final');
    expect(edited.content).toBe('final');
    expect(edited.editedTimestamp).not.toBeNull();
    await channel.sendTyping();

    const user = fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'q' });
    const reply = await channel.send({ content: 'a', reply: { messageReference: user.id } });
    expect(reply.reference?.messageId).toBe(user.id);

    expect(fake.channelMessages(fake.guild.channelId)).toEqual([
      expect.objectContaining({ id: sent.id, content: 'final', edits: 1, username: fake.bot.username }),
      expect.objectContaining({ content: 'a', replyTo: user.id, edits: 0 }),
    ]);
    const seen = fake.calls.map((c) => `${c.method} ${c.path} ${c.status}`);
    expect(seen).toContain(`POST /channels/${fake.guild.channelId}/messages 200`);
    expect(seen).toContain(`PATCH /channels/${fake.guild.channelId}/messages/${sent.id} 200`);
    expect(seen).toContain(`POST /channels/${fake.guild.channelId}/typing 204`);
    expect(fake.calls.find((c) => c.method === 'PATCH')?.body).toMatchObject({ content: 'final' });

    await expect(channel.send('x'.repeat(2001))).rejects.toMatchObject({ status: 400, code: 50035 });

    const got = nextMessage(client);
    fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'about that', replyToBotMessageId: sent.id });
    const m = await got;
    expect(m.reference?.messageId).toBe(sent.id);
    expect(m.mentions.repliedUser?.id).toBe(fake.bot.id);
  });

  it('DM replies work through the partial DM channel', async () => {
    const { fake, client } = await setup();
    const got = nextMessage(client);
    fake.userMessage({ author: alice, content: 'dm me' });
    const m = await got;
    const r = await m.reply('hi alice');
    expect(fake.channelMessages(m.channelId)).toEqual([expect.objectContaining({ id: r.id, content: 'hi alice', replyTo: m.id })]);
  });

  it("pages a channel's history as Discord does: after an id (the oldest ones after it) or the newest, at most 100", async () => {
    const { fake, client } = await setup();
    const channel = client.channels.cache.get(fake.guild.channelId) as TextChannel;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(fake.userMessage({ author: alice, channelId: channel.id, content: `m${i}` }).id as string);
    const bot = await channel.send('from the bot');
    const contents = (page: Map<string, Message>) => [...page.values()].map((m) => m.content);
    expect(contents(await channel.messages.fetch({ after: ids[1]!, limit: 2, cache: false }))).toEqual(['m3', 'm2']);
    expect(contents(await channel.messages.fetch({ after: ids[3]!, cache: false }))).toEqual(['from the bot', 'm4']);
    expect(contents(await channel.messages.fetch({ limit: 2, cache: false }))).toEqual(['from the bot', 'm4']);
    expect(contents(await channel.messages.fetch({ before: bot.id, limit: 1, cache: false }))).toEqual(['m4']);
    await expect(client.rest.get(`/channels/${channel.id}/messages`, { query: new URLSearchParams({ limit: '101' }) })).rejects.toMatchObject({ status: 400 });
  });

  it('executes webhooks with a username override', async () => {
    const { fake, client } = await setup();
    const channel = client.channels.cache.get(fake.guild.channelId) as TextChannel;
    const hook = await channel.createWebhook({ name: 'charbridge' });
    expect((await channel.fetchWebhooks()).has(hook.id)).toBe(true);
    const msg = await hook.send({ content: 'I am Ada', username: 'Ada', avatarURL: 'http://img.test/ada.png' });
    expect(msg.webhookId).toBe(hook.id);
    await hook.editMessage(msg, { content: 'I am Ada Lovelace' });
    expect(fake.channelMessages(fake.guild.channelId)).toEqual([
      expect.objectContaining({ content: 'I am Ada Lovelace', username: 'Ada', webhookId: hook.id, avatarUrl: 'http://img.test/ada.png', edits: 1 }),
    ]);
    await expect(channel.createWebhook({ name: 'Discord bot' })).rejects.toMatchObject({ status: 400, code: 50035 });
  });

  it('registers commands and answers slash commands (reply, defer + editReply, followUp, autocomplete)', async () => {
    const { fake, client } = await setup();
    const body = [{ name: 'persona', description: 'Pick a persona', options: [{ name: 'name', description: 'who', type: 3, autocomplete: true }] }];
    const stored = (await client.rest.put(Routes.applicationCommands(fake.applicationId), { body })) as any[];
    expect(stored[0]).toMatchObject({ name: 'persona', application_id: fake.applicationId, type: 1 });
    expect(fake.registeredCommands()[0].id).toBe(stored[0].id);
    await client.rest.put(Routes.applicationGuildCommands(fake.applicationId, fake.guild.id), { body });
    expect(fake.registeredCommands(fake.guild.id)).toHaveLength(1);

    client.on(Events.InteractionCreate, async (i) => {
      if (i.isAutocomplete()) {
        await i.respond([{ name: 'Ada', value: 'ada' }]);
      } else if (i.isChatInputCommand()) {
        const name = i.options.getString('name');
        if (name === 'ada') await i.reply(`now ${name}, perms ${i.memberPermissions?.bitfield}`);
        else {
          await i.deferReply();
          await i.editReply('done thinking');
          await i.followUp('one more thing');
        }
      }
    });

    const a = fake.slashCommand({ name: 'persona', user: alice, autocomplete: true, options: [{ name: 'name', type: 3, value: 'a', focused: true }] });
    expect(await a.acknowledged).toMatchObject({ kind: 'callback', type: 8, data: { choices: [{ name: 'Ada', value: 'ada' }] } });

    const s = fake.slashCommand({ name: 'persona', user: alice, permissions: '32', options: [{ name: 'name', type: 3, value: 'ada' }] });
    expect(await s.acknowledged).toMatchObject({ type: 4, data: { content: 'now ada, perms 32' } });

    const d = fake.slashCommand({ name: 'persona', user: alice, guildId: null, options: [{ name: 'name', type: 3, value: 'bob' }] });
    await fake.waitFor(() => fake.interactionResponses(d.token).length === 3);
    const rs = fake.interactionResponses(d.token);
    expect(rs.map((r) => `${r.kind}:${r.type}`)).toEqual(['callback:5', 'editOriginal:0', 'followup:0']);
    expect(rs[1]?.message?.content).toBe('done thinking');
    expect(rs[2]?.data.content).toBe('one more thing');
    expect(fake.calls.some((c) => c.method === 'PATCH' && c.path === `/webhooks/${fake.applicationId}/${d.token}/messages/@original`)).toBe(true);
  });

  it('paces bursts from the rate-limit headers: no 429, nothing lost', async () => {
    const { fake, client } = await setup({ limits: { messagePost: { limit: 2, windowMs: 300 } } });
    const channel = client.channels.cache.get(fake.guild.channelId) as TextChannel;
    const t0 = Date.now();
    await Promise.all([1, 2, 3, 4, 5, 6].map((n) => channel.send(`m${n}`)));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550); // three windows of 2
    expect(fake.channelMessages(fake.guild.channelId).map((m) => m.content)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    expect(fake.tooManyRequests).toBe(0);
  });

  it('answers with Discord rate-limit headers and 429 bodies', async () => {
    const { fake } = await setup({ limits: { typing: { limit: 1, windowMs: 2000 } }, retryAfterHeader: 'exact' }, {}, false);
    const url = `${fake.restApi}/v10/channels/${fake.guild.channelId}/typing`;
    const post = () => fetch(url, { method: 'POST', headers: { Authorization: `Bot ${fake.token}` } });
    const first = await post();
    expect(first.status).toBe(204);
    expect(first.headers.get('x-ratelimit-limit')).toBe('1');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(first.headers.get('x-ratelimit-reset-after'))).toBeCloseTo(2, 1);
    expect(Number(first.headers.get('x-ratelimit-reset')) * 1000).toBeGreaterThan(Date.now());
    const bucket = first.headers.get('x-ratelimit-bucket');
    const second = await post();
    expect(second.status).toBe(429);
    expect(second.headers.get('x-ratelimit-bucket')).toBe(bucket);
    expect(second.headers.get('x-ratelimit-scope')).toBe('user');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(1.5);
    expect(await second.json()).toMatchObject({ message: 'You are being rate limited.', global: false });
    expect(fake.tooManyRequests).toBe(1);
    const unauth = await fetch(url, { method: 'POST', headers: { Authorization: 'Bot nope' } });
    expect(unauth.status).toBe(401);
    expect(await unauth.json()).toEqual({ message: '401: Unauthorized', code: 0 });
  });

  it('discord.js retries injected 429s (bucket and global) without losing messages', async () => {
    const { fake, client } = await setup({ retryAfterHeader: 'exact' });
    const channel = client.channels.cache.get(fake.guild.channelId) as TextChannel;
    fake.force429Next({ method: 'POST', path: '/messages', retryAfterMs: 200 });
    const a = await channel.send('after bucket 429');
    fake.force429Next({ method: 'POST', path: '/messages', retryAfterMs: 200, global: true });
    const b = await channel.send('after global 429');
    expect(fake.tooManyRequests).toBe(2);
    const posts = fake.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/messages')).map((c) => c.status);
    expect(posts).toEqual([429, 200, 429, 200]);
    expect(fake.channelMessages(fake.guild.channelId).map((m) => m.id)).toEqual([a.id, b.id]);
  });

  it('resumes after close 4000 and gets the events it missed', async () => {
    const { fake, client } = await setup();
    const resumed = new Promise<void>((r) => client.once(Events.ShardResume, () => r()));
    const contents: string[] = [];
    client.on(Events.MessageCreate, (m) => { if (!m.author.bot) contents.push(m.content); });
    fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'before' });
    await fake.waitFor(() => contents.length === 1);
    fake.disconnect(4000);
    fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'while away' });
    await resumed;
    fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'after' });
    await fake.waitFor(() => contents.length === 3);
    expect(contents).toEqual(['before', 'while away', 'after']);
    expect(fake.gatewayStats()).toMatchObject({ identifies: 1, resumes: 1 });
    const resume = fake.gatewayLog.find((e) => e.op === 6);
    expect(resume?.d).toMatchObject({ token: fake.token, seq: expect.any(Number) });
    expect(fake.gatewayLog.some((e) => e.dir === 'out' && e.t === 'RESUMED')).toBe(true);
  });

  it('replayOnResume(1) delivers a duplicate MESSAGE_CREATE (messageCreate only re-fires when uncached)', async () => {
    for (const cached of [true, false]) {
      const { fake, client } = await setup({}, cached ? {} : { makeCache: Options.cacheWithLimits({ MessageManager: 0 }) });
      const raw: string[] = [];
      const emitted: string[] = [];
      client.on(Events.Raw, (p: any) => { if (p.t === 'MESSAGE_CREATE') raw.push(p.d.id); });
      client.on(Events.MessageCreate, (m) => emitted.push(m.id));
      const msg = fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'once' });
      await fake.waitFor(() => emitted.length === 1);
      fake.replayOnResume(1);
      fake.disconnect(4000);
      await fake.waitFor(() => raw.length === 2);
      await fake.waitFor(() => fake.gatewayLog.some((e) => e.t === 'RESUMED'));
      await new Promise((r) => setTimeout(r, 50));
      expect(raw).toEqual([msg.id, msg.id]);
      expect(emitted).toEqual(cached ? [msg.id] : [msg.id, msg.id]);
      await client.destroy();
      await fake.close();
    }
  });

  it('disallowed privileged intents: close 4014, login rejects, no retry', async () => {
    const { fake, client } = await setup({ privilegedIntentsEnabled: false }, {}, false);
    const shardErrors: Error[] = [];
    const disconnects: number[] = [];
    client.on(Events.ShardError, (e) => shardErrors.push(e));
    client.on(Events.ShardDisconnect, (ev) => disconnects.push(ev.code));
    const err = await client.login(fake.token).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('Used disallowed intents');
    expect(shardErrors.map((e) => e.message)).toEqual(['Used disallowed intents']);
    expect(disconnects).toEqual([4014]);
    await fake.waitFor(() => fake.gatewayLog.some((e) => e.op === -1));
    expect(fake.gatewayLog.filter((e) => e.op === -1).map((e) => e.closeCode)).toEqual([4014]);
    await new Promise((r) => setTimeout(r, 700)); // longer than discord.js's 500 ms reconnect delay
    expect(fake.gatewayStats().identifies).toBe(1);
  });

  it('without the MessageContent intent, guild content is empty unless the bot is mentioned', async () => {
    const { fake, client } = await setup({}, { intents: [Guilds, GuildMessages, DirectMessages] });
    const got: string[] = [];
    client.on(Events.MessageCreate, (m) => { got.push(m.content); });
    fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'secret' });
    fake.userMessage({ author: alice, guildId: fake.guild.id, content: 'hey bot', mentionsBot: true });
    fake.userMessage({ author: alice, content: 'dm text' });
    await fake.waitFor(() => got.length === 3);
    expect(got).toEqual(['', `<@${fake.bot.id}> hey bot`, 'dm text']);
  });

  it('interaction callbacks after the 3 s deadline (on the fake clock) fail with 10062', async () => {
    let clock = Date.now();
    const { fake, client } = await setup({ now: () => clock });
    const failure = new Promise<unknown>((resolve) => {
      client.once(Events.InteractionCreate, (i) => {
        clock += 3500;
        if (i.isChatInputCommand()) i.reply('too late').then(() => resolve(null), resolve);
      });
    });
    fake.slashCommand({ name: 'slow', user: alice });
    expect(await failure).toMatchObject({ status: 404, code: 10062 });
  });

  it('close() stops a client destroyed during its resume back-off (no endless reconnect loop)', async () => {
    const { fake, client } = await setup();
    fake.disconnect(4000);
    await new Promise((r) => setTimeout(r, 100));
    await client.destroy(); // lands in discord.js's 500 ms back-off: it will still reconnect
    const closing = fake.close();
    await closing;
    const closes = fake.gatewayLog.filter((e) => e.op === -1).map((e) => e.closeCode);
    expect(closes).toEqual([4000, 4004]); // the straggler's reconnect was refused with a fatal code
  });

  it('a wrong token fails at GET /gateway/bot with TokenInvalid', async () => {
    const { fake, client } = await setup({}, {}, false);
    await expect(client.login('not-the-token')).rejects.toMatchObject({ code: 'TokenInvalid' });
    expect(fake.calls).toEqual([expect.objectContaining({ method: 'GET', path: '/gateway/bot', status: 401 })]);
  });
});
