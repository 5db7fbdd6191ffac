import { describe, expect, it } from 'vitest';
import { describeLaterInContext, laterInContext, tokensIn } from './context-order.js';

describe("what the chaos run's model saw", () => {
  it('names each message answered with a later message of its chat in the context, once, with every later one', () => {
    const asked = [
      { token: 'tg5', context: tokensIn('message tg2 | re: tg2 | message tg5') },
      { token: 'tg5', context: tokensIn('message tg5 | message tg9 | re: tg9 and so on') },
      { token: 'tg5', context: ['tg5', 'tg11'] },
      { token: 'slk3', context: ['slk1', 'slk3', 'tg40', 'dc50'] }, // other platforms' numbers are other chats
      { token: 'api7', context: ['api7', 'api9'] }, // API sessions are not chats
    ];
    expect(tokensIn('message tg2 | re: tg2 | xtg3 | slk44 dc1')).toEqual(['tg2', 'tg2', 'slk44', 'dc1']);
    const found = laterInContext(asked);
    expect(found).toEqual([{ token: 'tg5', later: ['tg9', 'tg11'] }]);
    expect(describeLaterInContext(found)).toBe("1 messages answered with a later message of their chat in the model's context (tg5 saw tg9/tg11)");
    expect(describeLaterInContext([])).toBe("0 messages answered with a later message of their chat in the model's context");
  });
});
