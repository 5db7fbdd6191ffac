/**
 * The key codecs refuse what they cannot address with an error naming the key, so a bad stored key
 * fails a proactive delivery loudly instead of posting somewhere else. (Round trips of the keys
 * the engine really stores are in the contract suite.)
 */
import { describe, expect, it } from 'vitest';
import { discordKeys } from '../../adapters/discord/keys.js';
import { slackKeys } from '../../adapters/slack/keys.js';
import { telegramKeys } from '../../adapters/telegram/keys.js';
import { decodeKey } from '../../src/core/conversation-key.js';

describe('key codecs', () => {
  it('Telegram: private chats by their positive id, topics as numbers; anything not a Bot API id is refused', () => {
    expect(telegramKeys.decode(decodeKey('telegram:42'))).toEqual({ chatId: 42, isPrivate: true });
    expect(telegramKeys.decode(decodeKey('telegram:-100123:thread:7:user:9'))).toEqual({ chatId: -100123, threadId: 7, userId: '9', isPrivate: false });
    expect(() => telegramKeys.decode(decodeKey('telegram:abc'))).toThrow('Cannot address conversation (telegram abc): the chat id is not a Telegram id');
    expect(() => telegramKeys.decode(decodeKey('telegram:007'))).toThrow(/chat id is not a Telegram id/); // would not encode back the same
    expect(() => telegramKeys.decode(decodeKey('telegram:-5:thread:x'))).toThrow(/topic id is not a Telegram id/);
    expect(() => telegramKeys.decode(decodeKey('slack:C1'))).toThrow(/not a Telegram conversation/);
  });

  it('Discord: a thread is posted in by its own id, under its parent; ids must be snowflakes', () => {
    expect(discordKeys.decode(decodeKey('discord:111:thread:222'))).toEqual({ channelId: '222', parentId: '111' });
    expect(discordKeys.encode({ channelId: '222', parentId: '111', userId: '5' })).toEqual({ platform: 'discord', chatId: '111', threadId: '222', userId: '5' });
    expect(() => discordKeys.decode(decodeKey('discord:general'))).toThrow(/channel id is not a Discord id/);
    expect(() => discordKeys.decode(decodeKey('discord:1:thread:x'))).toThrow(/thread id is not a Discord id/);
  });

  it('Slack: DMs are D… channels, threads are message timestamps', () => {
    expect(slackKeys.decode(decodeKey('slack:D0AB'))).toEqual({ channel: 'D0AB', dm: true });
    expect(slackKeys.decode(decodeKey('slack:C0AB:thread:1700000000.000100'))).toEqual({ channel: 'C0AB', threadTs: '1700000000.000100', dm: false });
    expect(() => slackKeys.decode(decodeKey('slack:#general'))).toThrow(/channel is not a Slack channel id/);
    expect(() => slackKeys.decode(decodeKey('slack:C0AB:thread:yesterday'))).toThrow(/thread is not a Slack message ts/);
  });
});
