import { describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, type ConversationKey } from '../../src/core/conversation-key.js';

describe('conversation keys', () => {
  const cases: ConversationKey[] = [
    { platform: 'telegram', chatId: '-100123', threadId: '7' },
    { platform: 'telegram', chatId: '42' },
    { platform: 'discord', chatId: '998877', userId: '42' },
    { platform: 'slack', chatId: 'C01', threadId: '1700000000.0001', userId: 'U9' },
    { platform: 'api', chatId: 'key:with:colons%and%percent', userId: 'user:1' },
  ];
  it.each(cases)('round-trips %j', (key) => {
    expect(decodeKey(encodeKey(key))).toEqual(key);
  });
  it('reads like the architecture says', () => {
    expect(encodeKey({ platform: 'telegram', chatId: '-100123', threadId: '7' })).toBe('telegram:-100123:thread:7');
  });
  it('rejects strings it could not have produced', () => {
    for (const bad of ['', 'irc:1', 'telegram', 'telegram:1:thread', 'telegram:1:bogus:2', 'telegram:1:user:2:thread:3']) {
      expect(() => decodeKey(bad)).toThrow(/Not a conversation key/);
    }
  });
});
