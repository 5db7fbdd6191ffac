/**
 * The update → InboundMessage rules on their own, including shapes the fake does not produce
 * (forum topic roots, text mentions, anonymous admins, linked-channel posts, image documents).
 */
import { describe, expect, it } from 'vitest';
import { parseUpdate, toInbound } from '../../../adapters/telegram/inbound.js';
import type { TgMessage } from '../../../adapters/telegram/transport.js';
import { testLogger } from '../../helpers/harness.js';

const bot = { id: 555, username: 'aria_bot' };
const user = { id: 7, is_bot: false, first_name: 'Bob', last_name: 'Stone' };
const group = { id: -100123, type: 'supergroup' as const, title: 'Crew' };
const forum = { ...group, is_forum: true };
let nextId = 1;
const update = (m: Partial<TgMessage>) => ({ update_id: nextId++, message: { message_id: 10, chat: group, from: user, ...m } as TgMessage });
const parse = (m: Partial<TgMessage>) => parseUpdate(update(m), bot);

describe('parseUpdate', () => {
  it('maps a DM', () => {
    const u = update({ chat: { id: 7, type: 'private' }, text: 'hello' });
    expect(parseUpdate(u, bot)?.msg).toMatchObject({
      platform: 'telegram', eventId: String(u.update_id), chatId: '7', chatType: 'dm', userId: '7', userName: 'Bob Stone',
      messageId: '10', text: 'hello', imageUrls: [], mentioned: false, repliedToBot: false, senderIsAdmin: false,
    });
    expect(parseUpdate(u, bot)?.needsAdminCheck).toBe(false);
  });

  it('detects and strips an @mention entity, and a text_mention of the bot', () => {
    const p = parse({ text: 'hey @Aria_Bot how are you', entities: [{ type: 'mention', offset: 4, length: 9 }] });
    expect(p?.msg).toMatchObject({ mentioned: true, text: 'hey how are you', chatType: 'group' });
    expect(parse({ text: 'hey @someone', entities: [{ type: 'mention', offset: 4, length: 8 }] })?.msg.mentioned).toBe(false);
    const tm = parse({ text: 'Aria help', entities: [{ type: 'text_mention', offset: 0, length: 4, user: { id: 555, is_bot: true, first_name: 'Aria' } }] });
    expect(tm?.msg.mentioned).toBe(true);
  });

  it('normalizes /cmd@ourbot, ignores /cmd@otherbot, and asks for admin status only for group commands', () => {
    const ours = parse({ text: '/character@aria_bot Nyx', entities: [{ type: 'bot_command', offset: 0, length: 19 }] });
    expect(ours?.msg.text).toBe('/character Nyx');
    expect(ours?.needsAdminCheck).toBe(true);
    expect(parse({ text: '/clear@other_bot' })).toBeNull();
    expect(parse({ text: 'hello' })?.needsAdminCheck).toBe(false);
  });

  it('treats a reply to the bot as engagement, but not the forum topic root', () => {
    const botMsg = { message_id: 5, chat: group, from: { id: 555, is_bot: true, first_name: 'Aria' }, text: 'earlier' };
    expect(parse({ text: 'yes', reply_to_message: botMsg })?.msg.repliedToBot).toBe(true);
    expect(parse({ text: 'yes', reply_to_message: { ...botMsg, from: user } })?.msg.repliedToBot).toBe(false);
    // In a topic the bot created, every plain message "replies" to the creation service message.
    const root = { message_id: 3, chat: forum, from: botMsg.from, forum_topic_created: { name: 'Lore', icon_color: 1 } };
    const inTopic = parse({ chat: forum, message_thread_id: 3, is_topic_message: true, text: 'hi all', reply_to_message: root });
    expect(inTopic?.msg).toMatchObject({ chatType: 'thread', threadId: '3', repliedToBot: false });
  });

  it('only forum topics become threads (reply threads in plain supergroups do not)', () => {
    expect(parse({ message_thread_id: 9, text: 'x' })?.msg.chatType).toBe('group');
    expect(parse({ chat: forum, text: 'in General' })?.msg.chatType).toBe('group');
  });

  it('picks the largest photo under the size cap and keeps the caption', () => {
    const p = parse({
      caption: 'look',
      photo: [
        { file_id: 'small', width: 90, height: 90, file_size: 1000 },
        { file_id: 'huge', width: 5000, height: 5000, file_size: 9_000_000 },
        { file_id: 'large', width: 1280, height: 1280, file_size: 200_000 },
      ],
    });
    expect(p?.image).toEqual({ fileId: 'large', mime: 'image/jpeg' });
    expect(p?.msg.text).toBe('look');
    expect(parse({ document: { file_id: 'd', mime_type: 'image/png', file_size: 10 } })?.image).toEqual({ fileId: 'd', mime: 'image/png' });
  });

  it('flags other media as unsupported, keeps their caption, and ignores service messages', () => {
    expect(parse({ sticker: { file_id: 's' } })?.msg).toMatchObject({ unsupportedMedia: true, text: '' });
    expect(parse({ voice: { file_id: 'v' }, caption: 'listen' })?.msg).toMatchObject({ unsupportedMedia: true, text: 'listen' });
    expect(parse({ document: { file_id: 'd', mime_type: 'application/pdf' } })?.msg.unsupportedMedia).toBe(true);
    expect(parse({ new_chat_members: [user] })).toBeNull();
    expect(parse({ pinned_message: {} })).toBeNull();
  });

  it('marks bots and linked-channel posts as fromBot; an anonymous admin is an admin', () => {
    expect(parse({ from: { id: 9, is_bot: true, first_name: 'OtherBot' }, text: 'beep' })?.msg.fromBot).toBe(true);
    expect(parse({ from: { id: 777000, is_bot: false, first_name: 'Telegram' }, sender_chat: { id: -100999, type: 'channel', title: 'News' }, text: 'post' })?.msg.fromBot).toBe(true);
    const anon = parse({ from: { id: 1087968824, is_bot: true, first_name: 'Group', username: 'GroupAnonymousBot' }, sender_chat: group, text: '/admin engage always' });
    expect(anon?.msg).toMatchObject({ senderIsAdmin: true, userName: 'Crew', userId: String(group.id) });
    expect(anon?.msg.fromBot).toBeUndefined();
    expect(anon?.needsAdminCheck).toBe(false);
  });
});

describe('toInbound', () => {
  const deps = (over: Partial<Parameters<typeof toInbound>[1]> = {}) => ({
    bot,
    log: testLogger(),
    isChatAdmin: async () => true,
    download: async () => Buffer.from([1, 2, 3]),
    ...over,
  });

  it('turns the image into a data: URL and asks about admin status for commands', async () => {
    const msg = await toInbound(update({ photo: [{ file_id: 'p', width: 10, height: 10 }] }), deps());
    expect(msg?.imageUrls).toEqual(['data:image/jpeg;base64,AQID']);
    expect((await toInbound(update({ text: '/status' }), deps()))?.senderIsAdmin).toBe(true);
    expect((await toInbound(update({ text: 'not a command' }), deps({ isChatAdmin: async () => { throw new Error('not asked'); } })))?.senderIsAdmin).toBe(false);
  });

  it('answers a photo it could not download like unsupported media', async () => {
    const msg = await toInbound(update({ photo: [{ file_id: 'p', width: 10, height: 10 }] }), deps({ download: async () => { throw new Error('404'); } }));
    expect(msg).toMatchObject({ imageUrls: [], unsupportedMedia: true });
  });
});
