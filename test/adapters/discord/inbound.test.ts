/**
 * The pure parts of the Discord adapter: message → InboundMessage rules, slash command → engine
 * text, conversation keys round-tripping, the REST base and the error classifier.
 */
import { describe, expect, it } from 'vitest';
import { DiscordAPIError, RateLimitError } from 'discord.js';
import { decodeKey, encodeKey } from '../../../src/core/conversation-key.js';
import { characterChoices, toEngineText } from '../../../adapters/discord/commands.js';
import { commandMenu, createCommandRegistry } from '../../../src/engine/commands/index.js';
import { proactiveCommand } from '../../../src/scheduler/index.js';
import { restBase } from '../../../adapters/discord/index.js';
import { placeToChat, toInbound } from '../../../adapters/discord/inbound.js';
import { discordErrorKind, retryAfterMs, type DcMessage } from '../../../adapters/discord/transport.js';

const bot = { id: '900000000000000001', username: 'charbridge', applicationId: '900000000000000001' };

const message = (over: Partial<DcMessage> = {}): DcMessage => ({
  id: '100000000000000001',
  channelId: '200000000000000001',
  guildId: '300000000000000001',
  channelKind: 'text',
  parentId: null,
  author: { id: '400000000000000001', name: 'Alice', bot: false },
  webhookId: null,
  system: false,
  content: 'hello',
  mentionsBot: false,
  botRoleId: null,
  repliedToUserId: null,
  attachments: [],
  hasStickers: false,
  memberIsAdmin: false,
  raw: null,
  ...over,
});

describe('discord inbound', () => {
  it('guild channel: a group keyed by the channel; the mention is stripped and counts', () => {
    const m = toInbound(message({ content: `<@${bot.id}> how are you?`, mentionsBot: true }), bot)!;
    expect(m).toMatchObject({ platform: 'discord', chatType: 'group', chatId: '200000000000000001', text: 'how are you?', mentioned: true, eventId: '100000000000000001' });
    expect(toInbound(message({ content: `hey <@!${bot.id}>, <@&55> and <@123>` }), bot)).toMatchObject({ mentioned: true, text: 'hey <@&55> and <@123>' });
    expect(toInbound(message({ content: 'ping <@&77> please', botRoleId: '77', mentionsBot: true }), bot)).toMatchObject({ mentioned: true, text: 'ping please' });
    expect(toInbound(message(), bot)).toMatchObject({ mentioned: false, repliedToBot: false });
  });

  it('replies to the bot or to one of its webhooks; threads; DMs; admin only in guilds', () => {
    expect(toInbound(message({ repliedToUserId: bot.id }), bot)?.repliedToBot).toBe(true);
    expect(toInbound(message({ repliedToUserId: '777' }), bot, new Set(['777']))?.repliedToBot).toBe(true);
    expect(toInbound(message({ repliedToUserId: '888' }), bot)?.repliedToBot).toBe(false);
    expect(toInbound(message({ channelKind: 'thread', channelId: 't1', parentId: 'c1' }), bot)).toMatchObject({ chatType: 'thread', chatId: 'c1', threadId: 't1' });
    expect(toInbound(message({ channelKind: 'dm', guildId: null, memberIsAdmin: true }), bot)).toMatchObject({ chatType: 'dm', senderIsAdmin: false });
    expect(toInbound(message({ memberIsAdmin: true }), bot)?.senderIsAdmin).toBe(true);
  });

  it('images become URLs; other files and stickers are unsupported media; bots and webhooks are marked', () => {
    const img = { url: 'https://cdn.discordapp.com/a/b/cat.webp', contentType: 'image/webp', name: 'cat.webp', size: 1000 };
    const pdf = { url: 'https://cdn.discordapp.com/a/b/doc.pdf', contentType: 'application/pdf', name: 'doc.pdf', size: 1000 };
    expect(toInbound(message({ content: '', attachments: [img, pdf] }), bot)).toMatchObject({ imageUrls: [img.url], text: '' });
    expect(toInbound(message({ content: '', attachments: [pdf] }), bot)).toMatchObject({ unsupportedMedia: true });
    expect(toInbound(message({ content: '', hasStickers: true }), bot)?.unsupportedMedia).toBe(true);
    expect(toInbound(message({ content: '' }), bot)).toBeNull(); // embeds only
    expect(toInbound(message({ content: `<@${bot.id}>`, mentionsBot: true }), bot)).toMatchObject({ text: '', mentioned: true });
    expect(toInbound(message({ system: true }), bot)).toBeNull();
    expect(toInbound(message({ author: { id: bot.id, name: 'me', bot: true } }), bot)?.fromBot).toBe(true);
    expect(toInbound(message({ webhookId: '5', author: { id: '5', name: 'Aria', bot: true } }), bot)?.fromBot).toBe(true);
  });

  it('conversation keys round-trip for channels, threads, per-user scope and DMs', () => {
    for (const p of [
      { channelId: 'c', guildId: 'g', channelKind: 'text' as const, parentId: null },
      { channelId: 't', guildId: 'g', channelKind: 'thread' as const, parentId: 'c' },
      { channelId: 'd', guildId: null, channelKind: 'dm' as const, parentId: null },
    ]) {
      const { chatId, threadId } = placeToChat(p);
      const key = { platform: 'discord' as const, chatId, ...(threadId ? { threadId } : {}), userId: '42' };
      expect(decodeKey(encodeKey(key))).toEqual(key);
    }
    expect(encodeKey({ platform: 'discord', ...placeToChat({ channelId: 't', guildId: 'g', channelKind: 'thread', parentId: 'c' }) })).toBe('discord:c:thread:t');
  });
});

describe('discord slash commands → engine text', () => {
  it('maps every command and subcommand', () => {
    const menu = commandMenu(createCommandRegistry([proactiveCommand(undefined)]));
    const t = (name: string, subcommand: string | null, options: Record<string, string> = {}) => toEngineText(menu, { name, subcommand, options });
    expect(t('chat', null, { message: 'hi there' })).toEqual({ text: 'hi there', callsModel: true });
    expect(t('clear', null)).toEqual({ text: '/clear', callsModel: false });
    expect(t('status', null)?.text).toBe('/status');
    expect(t('character', null)?.text).toBe('/character');
    expect(t('character', null, { name: 'Captain Rook' })?.text).toBe('/character Captain Rook');
    expect(t('proactive', null, { state: 'on' })?.text).toBe('/proactive on');
    expect(t('admin', 'scope', { mode: 'per-user' })?.text).toBe('/admin scope per-user');
    expect(t('admin', 'engage', { mode: 'always' })?.text).toBe('/admin engage always');
    expect(t('admin', 'limit', { value: 'off' })?.text).toBe('/admin limit off');
    expect(t('admin', 'proactive', { state: 'test' })).toEqual({ text: '/admin proactive test', callsModel: true });
    expect(t('admin', 'character-default', { name: 'Nyx' })?.text).toBe('/admin character-default Nyx');
    expect(t('admin', 'nope')).toBeNull();
    expect(t('unknown', null)).toBeNull();
  });

  it('offers prefix matches first, at most 25', () => {
    const names = ['Aria', 'Captain Rook', 'Juniper', 'Nyx', 'Professor Lin', 'Sunny'];
    expect(characterChoices(names, 'n').map((c) => c.name)).toEqual(['Nyx', 'Captain Rook', 'Juniper', 'Professor Lin', 'Sunny']);
    expect(characterChoices(Array.from({ length: 40 }, (_, i) => `C${i}`), '')).toHaveLength(25);
  });
});

describe('discord transport helpers', () => {
  it('accepts an origin or an /api base for DISCORD_API_URL', () => {
    expect(restBase('http://127.0.0.1:5000')).toBe('http://127.0.0.1:5000/api');
    expect(restBase('http://127.0.0.1:5000/api/')).toBe('http://127.0.0.1:5000/api');
    expect(restBase('https://discord.com/api/v10')).toBe('https://discord.com/api');
    expect(restBase(undefined)).toBeUndefined();
  });

  it('classifies Discord errors for the outbound budget', () => {
    const api = (status: number, code: number, extra: object = {}) =>
      new DiscordAPIError({ message: 'x', code, ...extra }, code, status, 'PATCH', 'http://x', { body: undefined, files: undefined });
    expect(discordErrorKind(api(404, 10008))).toBe('unknown-message');
    expect(discordErrorKind(api(403, 50013))).toBe('forbidden');
    expect(discordErrorKind(api(429, 0, { retry_after: 1.5 }))).toBe('rate-limited');
    expect(retryAfterMs(api(429, 0, { retry_after: 1.5 }))).toBe(1500);
    const rl = new RateLimitError({
      timeToReset: 700, limit: 5, method: 'PATCH', hash: 'h', url: 'http://x', route: '/channels/:id/messages/:id',
      majorParameter: '1', global: false, retryAfter: 700, sublimitTimeout: 0, scope: 'user',
    });
    expect(retryAfterMs(rl)).toBe(700);
    expect(retryAfterMs(new Error('boom'))).toBeUndefined();
  });
});
