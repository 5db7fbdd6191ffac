/**
 * Conversations through the real telegraf, the fake Bot API and the real engine: what users see
 * in DMs, groups and forum topics, commands, admins, photos, other media and repeated updates.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLEARED_TEXT, REFUSAL_TEXT, UNSUPPORTED_MEDIA_TEXT } from '../../../src/engine/index.js';
import { seen } from '../../helpers/harness.js';
import { DM, expectTexts, FORUM, GROUP, okCalls, startWorld, waitFor, type World } from './world.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

const bob = { id: 7, first_name: 'Bob' };
const cy = { id: 8, first_name: 'Cy' };

describe('Telegram conversations', () => {
  it('registers the commands and remembers a DM conversation', async () => {
    w = await startWorld();
    expect(okCalls(w.fake, 'setMyCommands')[0]?.params.commands.map((c: { command: string }) => c.command)).toEqual([
      'start', 'help', 'clear', 'character', 'status', 'persona', 'proactive', 'admin',
    ]);
    w.say('my name is Ann');
    await expectTexts(w, ['Echo: my name is Ann']);
    w.say('what is my name?');
    await expectTexts(w, ['Echo: my name is Ann', 'Echo: what is my name?']);
    const ctx = seen(w.h.fake);
    expect(ctx).toContain('user: my name is Ann');
    expect(ctx).toContain('assistant: Echo: my name is Ann');
    expect(ctx.at(-1)).toBe('user: what is my name?');
    expect(okCalls(w.fake, 'sendChatAction', 42).length).toBeGreaterThan(0);
  });

  it('in a group: ignores unaddressed messages, answers a mention and a reply to the bot', async () => {
    w = await startWorld();
    const g = { chat: GROUP, from: bob };
    w.say('just chatting among ourselves', g);
    w.say(`@${w.fake.bot.username} hello there`, g);
    await expectTexts(w, ['Echo: Bob: hello there'], GROUP.id);
    const [answer] = w.fake.botMessages(GROUP.id);
    // The answer quotes the message it answers.
    const sent = okCalls(w.fake, 'sendMessage', GROUP.id)[0]!;
    expect(sent.params.reply_parameters?.message_id).toBe(2);
    w.say('and a follow-up', { ...g, replyToBotMessageId: answer!.message_id });
    await expectTexts(w, ['Echo: Bob: hello there', 'Echo: Bob: and a follow-up'], GROUP.id);
    expect(w.h.fake.requests).toHaveLength(2);
    expect(seen(w.h.fake).join('\n')).not.toContain('among ourselves');
  });

  it('keeps forum topics as separate conversations and answers inside the topic', async () => {
    w = await startWorld();
    const at = `@${w.fake.bot.username}`;
    w.say(`${at} secret of topic three`, { chat: FORUM, from: bob, threadId: 3 });
    await expectTexts(w, ['Echo: Bob: secret of topic three'], FORUM.id, 3);
    w.say(`${at} hello from four`, { chat: FORUM, from: bob, threadId: 4 });
    await expectTexts(w, ['Echo: Bob: hello from four'], FORUM.id, 4);
    expect(seen(w.h.fake).join('\n')).not.toContain('topic three');
    w.say(`${at} back in three`, { chat: FORUM, from: bob, threadId: 3 });
    await expectTexts(w, ['Echo: Bob: secret of topic three', 'Echo: Bob: back in three'], FORUM.id, 3);
    expect(seen(w.h.fake).join('\n')).toContain('secret of topic three');
    expect(okCalls(w.fake, 'sendMessage', FORUM.id).every((c) => c.params.message_thread_id === 3 || c.params.message_thread_id === 4)).toBe(true);
  });

  it('/clear: the model sees no earlier turns', async () => {
    w = await startWorld();
    w.say('remember the password swordfish');
    w.say('/clear');
    w.say('what was the password?');
    await expectTexts(w, ['Echo: remember the password swordfish', CLEARED_TEXT, 'Echo: what was the password?']);
    expect(seen(w.h.fake).join('\n')).not.toContain('swordfish');
  });

  it('/character: an admin (per getChatMember) switches the group, a member is refused', async () => {
    w = await startWorld();
    w.fake.setChatMember(GROUP.id, bob.id, 'administrator');
    w.say('/character Nyx', { chat: GROUP, from: cy });
    await expectTexts(w, [`${REFUSAL_TEXT} (switching the character of a group)`], GROUP.id);
    w.say(`/character@${w.fake.bot.username} Nyx`, { chat: GROUP, from: bob });
    await waitForCount(w, GROUP.id, 2);
    expect(w.texts(GROUP.id)[1]).toMatch(/^Switched to Nyx\./);
    w.say(`@${w.fake.bot.username} who are you?`, { chat: GROUP, from: cy });
    await waitForCount(w, GROUP.id, 3);
    expect(seen(w.h.fake)[0]).toMatch(/^system: You are Nyx\./);
    const asked = w.fake.calls.filter((c) => c.method === 'getChatMember').map((c) => Number(c.params.user_id));
    expect(asked.sort()).toEqual([bob.id, cy.id]); // only commands ask, plain messages do not
  });

  it('/admin scope per-user gives two members separate conversations', async () => {
    w = await startWorld();
    w.fake.setChatMember(GROUP.id, bob.id, 'creator');
    const at = `@${w.fake.bot.username}`;
    w.say('/admin scope per-user', { chat: GROUP, from: bob });
    w.say(`${at} my secret is plums`, { chat: GROUP, from: bob });
    w.say(`${at} hello`, { chat: GROUP, from: cy });
    await waitForCount(w, GROUP.id, 3);
    expect(w.texts(GROUP.id)[0]).toMatch(/own conversation/);
    expect(seen(w.h.fake).join('\n')).not.toContain('plums');
  });

  it('a photo reaches the model as an image part (a data: URL, never the token-bearing file URL)', async () => {
    w = await startWorld();
    w.fake.userMessage({ ...DM, photo: true, caption: 'what is this?' });
    await expectTexts(w, ['Echo: what is this? [images: 1]']);
    const last = w.h.fake.requests.at(-1)!.body.messages.at(-1);
    const image = last.content.find((p: { type: string }) => p.type === 'image_url');
    expect(image.image_url.url).toMatch(/^data:image\/jpeg;base64,/);
    expect(Buffer.from(image.image_url.url.split(',')[1], 'base64').subarray(0, 4)).toEqual(Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
    expect(JSON.stringify(w.h.fake.requests)).not.toContain(w.fake.token.split(':')[1]);
    expect(okCalls(w.fake, 'getFile')).toHaveLength(1);
  });

  it('answers other media with the short "text and images" notice', async () => {
    w = await startWorld();
    w.fake.userMessage({ ...DM, sticker: true });
    await expectTexts(w, [UNSUPPORTED_MEDIA_TEXT]);
    expect(w.h.fake.requests).toHaveLength(0);
  });

  it('answers a repeated update_id exactly once', async () => {
    w = await startWorld();
    w.fake.userMessage({ ...DM, text: 'twice?', duplicate: true });
    w.say('after');
    await expectTexts(w, ['Echo: twice?', 'Echo: after']); // same chat, in order: the duplicate was handled first
    expect(w.h.fake.requests).toHaveLength(2);
  });

  it('/cmd@ourbot is a command, /cmd@otherbot is ignored entirely', async () => {
    w = await startWorld();
    w.say('/help@other_bot');
    w.say(`/help@${w.fake.bot.username}`, { chat: GROUP, from: bob });
    await waitForCount(w, GROUP.id, 1);
    expect(w.texts(GROUP.id)[0]).toContain('Commands:');
    w.say('hi');
    await expectTexts(w, ['Echo: hi']);
  });
});

async function waitForCount(world: World, chatId: number, n: number): Promise<void> {
  await waitFor(() => world.texts(chatId).length >= n, 10_000, () => `${n} bot messages in ${chatId} (have ${JSON.stringify(world.texts(chatId))})`);
}
