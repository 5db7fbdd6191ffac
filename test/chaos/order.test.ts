import { describe, expect, it } from 'vitest';
import { describeOvertakes, overtakesIn } from './order.js';

describe('replies out of order in the chaos run', () => {
  it('names each reply shown before an earlier message of its chat, with the messages it overtook', () => {
    const chats = new Map([
      ['A', [{ token: 'm1', shown: 30 }, { token: 'm2', shown: 10 }, { token: 'm3', shown: 20 }, { token: 'm4', shown: 40 }]],
      ['B', [{ token: 'm5', shown: 1 }, { token: 'm6', shown: 2 }]],
    ]);
    const found = overtakesIn(chats);
    expect(found.map((o) => [o.chat, o.by.token, o.earlier.map((e) => e.token)])).toEqual([
      ['A', 'm2', ['m1']],
      ['A', 'm3', ['m1']],
    ]);
    expect(describeOvertakes(found)).toBe("2 replies shown before an earlier message's of their chat, overtaking 1 messages (m2 before m1 in A, m3 before m1 in A)");
    expect(describeOvertakes([])).toBe("0 replies shown before an earlier message's of their chat, overtaking 0 messages");
  });
});
