/**
 * Slash commands end to end: registration, each command mapped onto the engine's text command,
 * Manage Server re-checked on use with ephemeral refusals, autocomplete of character names, and
 * Discord's 3 s rule (deferred then edited) for slow answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLEARED_TEXT, REFUSAL_TEXT } from '../../../src/engine/index.js';
import { ANSWERED_PRIVATELY } from '../../../adapters/discord/interactions.js';
import type { InteractionResponse, SlashCommandInput } from '../../fakes/discord.js';
import { alice, bob, operator, startDiscord, type Setup } from './helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const MANAGE_GUILD = '32';
const EPHEMERAL = 64;
const str = (name: string, value: string, focused = false) => ({ name, type: 3, value, ...(focused ? { focused: true } : {}) });
const sub = (name: string, ...options: object[]) => ({ name, type: 1, options });

/** A promise the test resolves when it wants the model to answer. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

/** Run a slash command and wait for a non-deferred answer (and `count` responses in all); returns the last one. */
async function run(o: SlashCommandInput, count = 1): Promise<{ text: string; ephemeral: boolean; responses: InteractionResponse[] }> {
  const { fake } = s!;
  const c = fake.slashCommand(o);
  const visible = () => fake.interactionResponses(c.token).filter((r) => !(r.kind === 'callback' && r.type === 5));
  await fake.waitFor(() => visible().length > 0 && fake.interactionResponses(c.token).length >= count);
  const responses = fake.interactionResponses(c.token);
  const last = visible().at(-1)!;
  const text = last.message?.content ?? last.data?.content ?? '';
  const flags = (last.data?.flags ?? 0) | (last.message?.flags ?? 0);
  return { text, ephemeral: (flags & EPHEMERAL) !== 0, responses };
}

describe('discord adapter: slash commands', () => {
  it('registers the commands globally, /admin only for Manage Server', async () => {
    s = await startDiscord();
    const global = s.fake.registeredCommands();
    expect(global.map((c) => c.name)).toEqual(['chat', 'clear', 'character', 'status', 'persona', 'help', 'proactive', 'admin']);
    const admin = global.find((c) => c.name === 'admin');
    expect(admin?.default_member_permissions).toBe(MANAGE_GUILD);
    expect(admin?.options.map((o: { name: string }) => o.name)).toEqual(['scope', 'engage', 'limit', 'lorebook', 'proactive', 'character-default']);
  });

  it('registers per guild (instant updates) when DISCORD_GUILD_IDS is set', async () => {
    s = await startDiscord({ config: (fake) => ({ guildIds: [fake.guild.id] }) });
    expect(s.fake.registeredCommands()).toEqual([]);
    expect(s.fake.registeredCommands(s.fake.guild.id).map((c) => c.name)).toContain('chat');
  });

  it('/clear, /status, /help and /character answer publicly; /character name: is refused to members ephemerally', async () => {
    s = await startDiscord();
    expect(await run({ name: 'clear', user: alice })).toMatchObject({ text: CLEARED_TEXT, ephemeral: false });
    const status = await run({ name: 'status', user: alice });
    expect(status.text).toContain('Character: Aria');
    expect(status.text).toContain('Scope: shared');
    expect((await run({ name: 'help', user: alice })).text).toContain('/clear');
    expect((await run({ name: 'character', user: alice })).text).toContain('Current character: Aria.');
    const refused = await run({ name: 'character', user: alice, options: [str('name', 'Sunny')] });
    expect(refused).toMatchObject({ ephemeral: true });
    expect(refused.text).toContain(REFUSAL_TEXT);
    expect(refused.responses.map((r) => `${r.kind}:${r.type}`)).toEqual(['callback:4']);
    const switched = await run({ name: 'character', user: bob, permissions: MANAGE_GUILD, options: [str('name', 'Sunny')] });
    expect(switched).toMatchObject({ ephemeral: false });
    expect(switched.text).toContain('Switched to Sunny');
    // In a DM anyone switches their own conversation.
    expect((await run({ name: 'character', user: alice, guildId: null, options: [str('name', 'Nyx')] })).text).toContain('Switched to Nyx');
  });

  it('/admin subcommands: refused without Manage Server (re-checked on use), applied with it', async () => {
    s = await startDiscord();
    const { fake, h, texts } = s;
    const ch = fake.guild.channelId;
    const denied = await run({ name: 'admin', user: alice, options: [sub('engage', str('mode', 'always'))] });
    expect(denied).toMatchObject({ text: REFUSAL_TEXT, ephemeral: true });
    // Deferred at once (it would ask the model), then refused: the public placeholder is closed, the refusal is private.
    const late = await run({ name: 'admin', user: alice, options: [sub('proactive', str('state', 'test'))] }, 3);
    expect(late.responses.map((r) => `${r.kind}:${r.type}`)).toEqual(['callback:5', 'editOriginal:0', 'followup:0']);
    expect(late.responses[1]?.message?.content).toBe(ANSWERED_PRIVATELY);
    expect(late).toMatchObject({ text: REFUSAL_TEXT, ephemeral: true });

    const admin = (o: object) => run({ name: 'admin', user: bob, permissions: MANAGE_GUILD, options: [o] });
    expect((await admin(sub('scope', str('mode', 'per-user')))).text).toBe('Scope set: each member has their own conversation.');
    expect((await admin(sub('limit', str('value', '5')))).text).toBe('Limit set: 5 messages per minute per member.');
    expect((await admin(sub('proactive', str('state', 'on')))).text).toContain('Proactive messages on');
    h.fake.respondWith('Quiet in here today. What is everyone up to?');
    const test = await run({ name: 'admin', user: bob, permissions: MANAGE_GUILD, options: [sub('proactive', str('state', 'test'))] }, 2); // asks the model: deferred at once
    expect(test.responses[0]).toMatchObject({ kind: 'callback', type: 5 });
    expect(test.text).toBe('Proactive test sent.');
    await fake.waitFor(() => texts(ch).length === 1);
    // Delivered into the channel by adapter.deliver; scope is per-user here, so it names whom it is for.
    expect(texts(ch)).toEqual([`<@${bob.id}> Quiet in here today. What is everyone up to?`]);
    h.fake.respondWith(({ messages }) => `Echo: ${messages.at(-1).content}`);
    expect((await admin(sub('engage', str('mode', 'always')))).text).toBe('I will answer every message here.');
    // engage always: an unaddressed message is now answered.
    fake.userMessage({ author: alice, channelId: ch, content: 'anyone here?' });
    await fake.waitFor(() => texts(ch).length === 2);
    expect(texts(ch)[1]).toBe('Echo: alice: anyone here?');
  });

  it('/admin character-default sets the bot-wide default, for operators (ADMIN_USER_IDS) only', async () => {
    s = await startDiscord();
    const { h } = s;
    const asServerAdmin = await run({ name: 'admin', user: bob, permissions: MANAGE_GUILD, options: [sub('character-default', str('name', 'Nyx'))] });
    expect(asServerAdmin.ephemeral).toBe(true);
    expect(asServerAdmin.text).toContain('ADMIN_USER_IDS');
    const ok = await run({ name: 'admin', user: operator, options: [sub('character-default', str('name', 'Nyx'))] });
    expect(ok.text).toContain('Nyx is now the default character on discord');
    const nyx = await h.store.characters.findByName('Nyx');
    expect(await h.store.settings.getBinding('discord:*')).toBe(nyx?.id);
    expect((await run({ name: 'status', user: alice, guildId: null })).text).toContain('Character: Nyx');
  });

  it('/proactive on|off in a DM', async () => {
    s = await startDiscord();
    expect((await run({ name: 'proactive', user: alice, guildId: null, options: [str('state', 'on')] })).text).toContain('Proactive messages on');
    expect((await run({ name: 'proactive', user: alice, guildId: null })).text).toContain('Proactive messages are on');
    expect((await run({ name: 'proactive', user: alice, guildId: null, options: [str('state', 'off')] })).text).toContain('Proactive messages off');
  });

  it('autocompletes character names for /character and /admin character-default', async () => {
    s = await startDiscord();
    const { fake } = s;
    const a = fake.slashCommand({ name: 'character', user: alice, autocomplete: true, options: [str('name', 'su', true)] });
    expect(await a.acknowledged).toMatchObject({ type: 8, data: { choices: [{ name: 'Sunny', value: 'Sunny' }] } });
    const all = fake.slashCommand({ name: 'admin', user: bob, permissions: MANAGE_GUILD, autocomplete: true, options: [sub('character-default', str('name', '', true))] });
    const names = (await all.acknowledged).data.choices.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['Aria', 'Nyx', 'Sunny']));
  });

  it('/chat defers at once and edits the answer in after the 3 s deadline has passed', async () => {
    let clock = Date.now();
    s = await startDiscord({ fake: { now: () => clock } });
    const { fake, h } = s;
    const model = gate();
    h.fake.respondWith(async ({ messages }) => (await model.opened, `Echo: ${messages.at(-1).content}`));
    const c = fake.slashCommand({ name: 'chat', user: alice, options: [str('message', 'hello there')] });
    expect(await c.acknowledged).toMatchObject({ kind: 'callback', type: 5 });
    clock += 5000; // a direct reply now would fail with 10062 Unknown interaction
    model.open();
    await fake.waitFor(() => fake.interactionResponses(c.token).at(-1)?.message?.content === 'Echo: alice: hello there');
    expect(fake.interactionResponses(c.token).map((r) => r.kind)).toEqual(['callback', 'editOriginal']);
    expect(await h.store.conversations.getByScope(`discord:${fake.guild.channelId}`)).toBeDefined(); // a normal turn in the channel
  });

  it('a command stuck behind a slow model turn is deferred, then edited', async () => {
    s = await startDiscord();
    const { fake, h, texts } = s;
    const ch = fake.guild.channelId;
    const model = gate();
    h.fake.respondWith(async () => (await model.opened, 'Done thinking.'));
    fake.userMessage({ author: alice, channelId: ch, content: 'think hard', mentionsBot: true });
    await fake.waitFor(() => h.fake.requests.length === 1);
    const c = fake.slashCommand({ name: 'status', user: alice }); // queued behind the turn in this channel
    expect(await c.acknowledged).toMatchObject({ type: 5 });
    model.open();
    await fake.waitFor(() => fake.interactionResponses(c.token).some((r) => r.kind === 'editOriginal'));
    expect(fake.interactionResponses(c.token)[1]?.message?.content).toContain('Character: Aria');
    await fake.waitFor(() => texts(ch).length === 1);
  });

  it('/chat with a long answer streams into the response and continues in followups', async () => {
    s = await startDiscord();
    const { fake, h } = s;
    const answer = Array.from({ length: 100 }, (_, i) => `Line ${i} of a long answer, with a few words.`).join(' ');
    expect(answer.length).toBeGreaterThan(4000);
    h.fake.respondWith(answer);
    h.fake.setChunkDelay(1);
    const c = fake.slashCommand({ name: 'chat', user: alice, guildId: null, options: [str('message', 'long')] });
    const shown = () => {
      const rs = fake.interactionResponses(c.token);
      const original = rs.filter((r) => r.kind === 'editOriginal').at(-1)?.message?.content ?? '';
      const followups = new Map<string, string>();
      for (const r of rs) if (r.kind === 'followup' && r.message) followups.set(r.message.id, r.message.content);
      return [original, ...followups.values()];
    };
    await fake.waitFor(() => shown().join(' ') === answer, 10_000);
    expect(shown().every((t) => t.length <= 2000)).toBe(true);
    expect(fake.tooManyRequests).toBe(0);
  });
});
