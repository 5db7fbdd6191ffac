/** Cards in the engine: macros in every prompt, SillyTavern's system prompt, greetings, personas. */
import { afterEach, describe, expect, it } from 'vitest';
import { bindingKeysFor } from '../../src/engine/index.js';
import { importCard } from '../../src/characters/cards.js';
import { characterInputFrom } from '../../src/store/index.js';
import type { Character } from '../../src/core/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { readFixture } from '../fixtures/cards/make.js';
import { inbound, say, seen, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function speakAs(harness: Harness, fields: Record<string, unknown>): Promise<Character> {
  const c = await harness.store.characters.create(
    { ...characterInputFrom({ name: 'Wren Hollow', personality: 'Quiet and exact.', speakingStyle: 'Short sentences.' }), ...fields },
    'admin',
  );
  await harness.store.settings.setBinding(bindingKeysFor(inbound())[0]!, c.id);
  return c;
}

describe('card macros in prompts', () => {
  it('expands {{char}} (the nickname), {{user}}, {{date}} and comments in the character definition', async () => {
    h = await startHarness({ clock: new ManualClock(Date.UTC(2026, 2, 14, 15, 30)) });
    await speakAs(h, { nickname: 'Wren', scenario: '{{char}} meets {{user}} on {{date}}.{{// authors only}}' });
    await say(h.engine, inbound({ text: 'hi' }));
    expect(seen(h.fake)[0]).toContain('Scenario: Wren meets Sam on March 14, 2026.');
  });

  it('never caches a prompt that uses {{time}}: each turn reads the clock', async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 14, 12, 0)); // Saturday noon UTC: Saturday in every zone from UTC-11 to UTC+11
    h = await startHarness({ clock });
    await speakAs(h, { scenario: 'The clock says {{weekday}} {{time}}.' });
    await say(h.engine, inbound({ text: 'one' }));
    const first = seen(h.fake)[0];
    clock.advance(26 * 3_600_000);
    await say(h.engine, inbound({ text: 'two' }));
    const second = seen(h.fake)[0];
    expect(first).toMatch(/The clock says Saturday \d/);
    expect(second).toMatch(/The clock says Sunday \d/);
  });

  it('puts a card’s system prompt in place of our opening ({{original}} = ours), with the definition after it', async () => {
    h = await startHarness();
    await speakAs(h, { systemPrompt: '{{original}}\nWrite {{char}} in close third person.' });
    await say(h.engine, inbound({ text: 'hi' }));
    const system = seen(h.fake)[0] ?? '';
    expect(system).toMatch(/^system: Stay in character as Wren Hollow at all times, talking with Sam\.\nKeep replies conversational[^\n]*\nWrite Wren Hollow in close third person\.\nYou are Wren Hollow\.\nPersonality: Quiet and exact\./);
  });
});

describe('greetings', () => {
  it('/start gives the first message, /start n an alternate one, groups their own', async () => {
    h = await startHarness();
    await speakAs(h, { greeting: 'Hello, {{user}}.', alternateGreetings: ['Back again?', 'Oh, it is you.'], groupGreetings: ['Hello, everyone.'] });
    expect((await say(h.engine, inbound({ text: '/start' }))).notices).toEqual(['Hello, Sam.']);
    expect((await say(h.engine, inbound({ text: '/start 2' }))).notices).toEqual(['Back again?']);
    expect((await say(h.engine, inbound({ text: '/start 3' }))).notices).toEqual(['Oh, it is you.']);
    const group = inbound({ text: '/start', chatType: 'group', chatId: '-100' });
    await h.store.settings.setBinding(bindingKeysFor(group)[0]!, (await h.store.settings.getBinding(bindingKeysFor(inbound())[0]!))!);
    expect((await say(h.engine, group)).notices).toEqual(['Hello, everyone.']);
  });

  it('a card character’s greeting opens the conversation the model sees', async () => {
    h = await startHarness();
    const marisol = await importCard(h.store, readFixture('marisol.v2.json'), 'application/json', { ownerId: 'admin' });
    await h.store.settings.setBinding(bindingKeysFor(inbound())[0]!, marisol.id);
    await say(h.engine, inbound({ text: '/start' }));
    await say(h.engine, inbound({ text: 'Thanks for the kettle.' }));
    const lines = seen(h.fake);
    expect(lines[1]).toMatch(/^assistant: \*The door bangs open on a gust of rain\.\*[\s\S]*You'll be Sam, then/);
    expect(lines[2]).toBe('user: Thanks for the kettle.');
  });
});

describe('personas', () => {
  it('/persona sets how characters call and see the user, across chats, and /persona clear forgets it', async () => {
    h = await startHarness();
    await speakAs(h, { scenario: '{{user}} visits.' });
    expect((await say(h.engine, inbound({ text: '/persona' }))).notices[0]).toMatch(/no persona yet/);
    expect((await say(h.engine, inbound({ text: '/persona name Kit' }))).notices).toEqual(['Characters will call you Kit.']);
    expect((await say(h.engine, inbound({ text: '/persona set A retired sea captain with a parrot' }))).notices).toEqual(['Persona description saved.']);
    await say(h.engine, inbound({ text: 'Ahoy' }));
    const system = seen(h.fake)[0] ?? '';
    expect(system).toContain('talking with Kit.');
    expect(system).toContain('Scenario: Kit visits.');
    expect(system).toMatch(/\n\nAbout Kit, who you are talking with: A retired sea captain with a parrot$/);
    expect((await say(h.engine, inbound({ text: '/persona' }))).notices[0]).toBe('Your persona:\nName: Kit\nDescription: A retired sea captain with a parrot');

    // Another chat of the same user on the same platform: the same persona.
    await say(h.engine, inbound({ text: 'hello', chatId: '2' }));
    expect(seen(h.fake)[0]).toContain('talking with Kit');
    await say(h.engine, inbound({ text: '/persona clear' }));
    await say(h.engine, inbound({ text: 'again' }));
    expect(seen(h.fake)[0]).toContain('talking with Sam');
    expect(seen(h.fake)[0]).not.toContain('sea captain');
  });
});
