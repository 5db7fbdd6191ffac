/** Lorebooks in the engine: what fired goes into what the model receives, never into the reply or the history. */
import { afterEach, describe, expect, it } from 'vitest';
import { bindingKeysFor, loreReportOf } from '../../src/engine/index.js';
import { MAX_STRIKES, REPORT_MAX_LINES } from '../../src/engine/lore-context.js';
import { ManualClock } from '../../src/core/clock.js';
import { importCard } from '../../src/characters/cards.js';
import { newLoreBook, newLoreEntry, type LoreEntry } from '../../src/lore/index.js';
import { readFixture } from '../fixtures/cards/make.js';
import { inbound, say, seen, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function bookOnAria(harness: Harness, entries: Array<Partial<LoreEntry>>, name = 'World'): Promise<string> {
  const book = newLoreBook({ name, entries: entries.map((e, i) => newLoreEntry({ id: i, ...e })) });
  const record = await harness.store.lorebooks.create('admin', { name, description: null, book: JSON.stringify(book) });
  await harness.store.lorebooks.attach(record.id, { kind: 'character', id: 'preset_aria' });
  return record.id;
}

describe('lorebook context', () => {
  it('puts an entry whose key is in the newest messages before the character definition, and nothing otherwise', async () => {
    h = await startHarness();
    await bookOnAria(h, [{ keys: ['lighthouse'], content: 'The lighthouse on Gull Rock has been dark since 2007.' }]);
    await say(h.engine, inbound({ text: 'hello there' }));
    expect(seen(h.fake)[0]).not.toContain('Gull Rock');
    const turn = await say(h.engine, inbound({ text: 'Tell me about the Lighthouse.' }));
    expect(seen(h.fake)[0]).toMatch(/^system: The lighthouse on Gull Rock has been dark since 2007\.\n\nYou are Aria/);
    expect(turn.reply).not.toContain('Gull Rock');
    const stored = await h.store.messages.newest(await latestConversation(h), { limit: 50 });
    expect(stored.length).toBe(4);
    expect(stored.map((m) => m.content).join('\n')).not.toContain('Gull Rock');
  });

  it('places after_char entries after the definition and at_depth entries inside the history', async () => {
    h = await startHarness();
    await bookOnAria(h, [
      { keys: ['dragon'], content: 'AFTER: dragons are extinct.', position: 'after_char' },
      { keys: ['dragon'], content: 'DEPTH: whisper about dragons.', position: 'at_depth', depth: 1, role: 'system' },
    ]);
    await say(h.engine, inbound({ text: 'one' }));
    await say(h.engine, inbound({ text: 'a dragon!' }));
    const lines = seen(h.fake);
    expect(lines[0]).toMatch(/You are Aria[\s\S]*\n\nAFTER: dragons are extinct\.$/);
    expect(lines.slice(1)).toEqual(['user: one', 'system: DEPTH: whisper about dragons.', 'assistant: Echo: one', 'user: a dragon!']);
  });

  it('keeps constant entries always on and disabled ones always off, and reports what fired for /status', async () => {
    h = await startHarness();
    await bookOnAria(h, [
      { keys: [], constant: true, content: 'CONSTANT fact.', name: 'Always' },
      { keys: ['moon'], enabled: false, content: 'DISABLED moon fact.' },
      { keys: ['moon'], content: 'MOON fact.', name: 'Moon' },
    ]);
    await say(h.engine, inbound({ text: 'the moon is bright' }));
    const system = seen(h.fake)[0] ?? '';
    expect(system).toContain('CONSTANT fact.');
    expect(system).toContain('MOON fact.');
    expect(system).not.toContain('DISABLED');
    const report = await loreReportOf(h.store, await latestConversation(h));
    expect(report?.fired.map((f) => f.label).sort()).toEqual(['Always', 'Moon']);
    expect(report?.lines.join('\n')).toMatch(/\+ Moon \(World #2\): key "moon"/);
  });

  it('matches /regex/flags keys and whole words only (by default)', async () => {
    h = await startHarness();
    await bookOnAria(h, [
      { keys: ['/sail(s|ing)?\\b/i'], content: 'REGEX lore.' },
      { keys: ['cat'], content: 'CAT lore.' },
    ]);
    await say(h.engine, inbound({ text: 'We went SAILING past the catalogue shop.' }));
    const system = seen(h.fake)[0] ?? '';
    expect(system).toContain('REGEX lore.');
    expect(system).not.toContain('CAT lore.');
  });

  it('activates entries recursively from fired content, unless an entry opts out', async () => {
    h = await startHarness();
    await bookOnAria(h, [
      { keys: ['castle'], content: 'The castle belongs to the Duke.', order: 10 },
      { keys: ['duke'], content: 'DUKE lore: the Duke is ninety.', order: 20 },
      { keys: ['ninety'], content: 'NEVER: excluded from recursion.', excludeRecursion: true, order: 30 },
    ]);
    await say(h.engine, inbound({ text: 'Whose castle is that?' }));
    const system = seen(h.fake)[0] ?? '';
    expect(system).toContain('DUKE lore');
    expect(system).not.toContain('NEVER');
  });

  it('keeps fired entries within the token budget (25% of the context), dropping the lowest order first', async () => {
    h = await startHarness({ config: { contextTokens: 400 } });
    const long = (word: string) => `${word} `.repeat(60).trim();
    await bookOnAria(h, [
      { keys: ['storm'], content: `LOW ${long('low')}`, order: 1 },
      { keys: ['storm'], content: `HIGH ${long('high')}`, order: 99 },
    ]);
    await say(h.engine, inbound({ text: 'storm' }));
    const system = seen(h.fake)[0] ?? '';
    expect(system).toContain('HIGH high');
    expect(system).not.toContain('LOW low');
    const report = await loreReportOf(h.store, await latestConversation(h));
    expect(report?.lines.join('\n')).toMatch(/token budget full/);
  });


  it('reports an entry whose block the context had no room for as left out, not as fired', async () => {
    h = await startHarness({ config: { contextTokens: 600 } });
    const aria = (await h.store.characters.findVisible('aria', null))!;
    await h.store.characters.update(aria.id, { scenario: 'A long scenario. '.repeat(90) });
    await bookOnAria(h, [
      { keys: ['storm'], content: `BIG ${'lore '.repeat(120)}`, name: 'Big', position: 'after_char' },
      { keys: ['storm'], content: 'SMALL storm note.', name: 'Small', position: 'at_depth', depth: 0, role: 'system' },
    ]);
    await say(h.engine, inbound({ text: 'storm' }));
    const sent = seen(h.fake).join('\n');
    expect(sent).not.toContain('BIG lore');
    expect(sent).toContain('system: SMALL storm note.');
    const report = (await loreReportOf(h.store, await latestConversation(h)))!;
    expect(report.fired.map((f) => f.label)).toEqual(['Small']);
    expect(report.tokensUsed).toBe(report.fired[0]!.tokens);
    expect(report.lines).toContainEqual(expect.stringMatching(/^- Big \(World #0\): key "storm"; left out: .*no room/));
    expect(report.lines).toContainEqual(expect.stringMatching(/^\+ Small \(World #1\): key "storm"$/));
  });
  it('keeps the report short when a common key matches hundreds of entries: the first are named, the rest counted', async () => {
    h = await startHarness();
    await bookOnAria(h, Array.from({ length: 300 }, (_, i) => ({ keys: ['storm'], content: `Storm fact ${i}: ${'the wind howls. '.repeat(10)}`, name: `Storm ${i}` })));
    await say(h.engine, inbound({ text: 'a storm is coming' }));
    const report = (await loreReportOf(h.store, await latestConversation(h)))!;
    const fired = report.lines.filter((l) => /^\+ Storm \d+/.test(l)).length;
    const dropped = report.lines.filter((l) => /^- Storm \d+ .*token budget full/.test(l)).length;
    const rest = Number(/^- … and (\d+) more entries matched but were dropped$/.exec(report.lines.at(-1)!)?.[1]);
    expect(fired).toBe(report.fired.length);
    expect(fired).toBeGreaterThan(0);
    expect(fired + dropped).toBe(REPORT_MAX_LINES);
    expect(fired + dropped + rest).toBe(300);
  });

  it('scans only the newest messages (scan depth 2 by default)', async () => {
    h = await startHarness();
    await bookOnAria(h, [{ keys: ['anchor'], content: 'ANCHOR lore.' }]);
    await say(h.engine, inbound({ text: 'anchor' }));
    expect(seen(h.fake)[0]).toContain('ANCHOR lore.');
    await say(h.engine, inbound({ text: 'something else' }));
    await say(h.engine, inbound({ text: 'and more' }));
    expect(seen(h.fake)[0]).not.toContain('ANCHOR lore.');
  });

  it('uses the card’s own lorebook for a character imported from a card, with its macros expanded', async () => {
    h = await startHarness();
    const marisol = await importCard(h.store, readFixture('marisol.v2.json'), 'application/json', { ownerId: 'admin' });
    await h.store.settings.setBinding(bindingKeysFor(inbound())[0]!, marisol.id);
    await say(h.engine, inbound({ text: 'What is the ledger?' }));
    expect(seen(h.fake).join('\n'), 'selective: a secondary key must match too').not.toContain('schooner Ardent');
    await say(h.engine, inbound({ text: 'The ledger with the red ink?' }));
    const requested = seen(h.fake).join('\n');
    const book = (JSON.parse((await h.store.characters.cardOf(marisol.id))!.json) as { card: { character_book: { entries: Array<{ keys: string[]; content: string }> } } }).card.character_book;
    const ledger = book.entries.find((e) => e.keys.some((k) => /ledger/i.test(k)));
    expect(ledger, 'the fixture has a ledger entry').toBeDefined();
    expect(requested).toContain(ledger!.content.replace(/\{\{char\}\}/gi, 'Marisol Vane').replace(/\{\{user\}\}/gi, 'Sam').slice(0, 40));
  });
});

describe('a lorebook pattern that backtracks for years', () => {
  it('is stopped and refused: the turn is answered with the rest of the book, and the report names the key', async () => {
    h = await startHarness();
    // Passes safe-regex2, yet backtracks 2^n steps over n digits: unstopped, this turn (and every
    // other chat in the process) would wait for years.
    await bookOnAria(h, [
      { keys: ['/(\\w|\\d)+$/'], content: 'NEVER.', name: 'Digits' },
      { keys: ['dragon'], content: 'Dragons breathe frost here.' },
    ]);
    const turn = await say(h.engine, inbound({ text: `the dragon ${'1'.repeat(48)}!` }));
    expect(turn.reply).toMatch(/^Echo: the dragon/);
    expect(seen(h.fake)[0]).toMatch(/^system: Dragons breathe frost here\./);
    const report = await loreReportOf(h.store, await latestConversation(h));
    expect(report?.warnings).toEqual([expect.stringMatching(/"Digits": key "\/\(\\w\|\\d\)\+\$\/" never matches: regular expression could take exponential time$/)]);
    expect((await say(h.engine, inbound({ text: `another dragon ${'2'.repeat(48)}!` }))).reply).toMatch(/^Echo: another dragon/);
    expect(seen(h.fake)[0]).toContain('Dragons breathe frost here.');
  });
});

describe('an owner whose patterns keep stalling the scan', () => {
  it("has its books left out for the rest of the hour after three, while another owner's book on the same character still fires", async () => {
    const clock = new ManualClock(Date.parse('2026-12-07T10:00:00Z'));
    h = await startHarness({ clock });
    await bookOnAria(h, [{ keys: ['dragon'], content: 'ADMIN dragon lore.' }], 'Admin world');
    const hostileBook = (pattern: string) =>
      JSON.stringify(newLoreBook({ name: 'Hostile', entries: [newLoreEntry({ id: 0, keys: [pattern], content: 'NEVER.' }), newLoreEntry({ id: 1, keys: ['dragon'], content: 'HOSTILE lore.' })] }));
    // Each passes safe-regex2 and backtracks 2^n steps over n digits.
    const patterns = ['/(\\w|\\d)+$/', '/(\\d|\\w)+$/', '/(1|\\d)+$/', '/(\\d|1)+$/'];
    const hostile = await h.store.lorebooks.create('key_hostile', { name: 'Hostile', description: null, book: hostileBook(patterns[0]!) });
    await h.store.lorebooks.attach(hostile.id, { kind: 'character', id: 'preset_aria' });
    const digits = `${'1'.repeat(48)}!`;
    for (const [i, pattern] of patterns.entries()) {
      // A new stalling pattern before every turn: each is caught and refused once.
      clock.advance(1000);
      if (i) await h.store.lorebooks.update(hostile.id, { book: hostileBook(pattern) });
      await say(h.engine, inbound({ text: `dragon ${digits}` }));
      const report = await loreReportOf(h.store, await latestConversation(h));
      expect(seen(h.fake)[0]).toContain('ADMIN dragon lore.');
      if (i < 3) {
        expect(seen(h.fake)[0]).toContain('HOSTILE lore.');
        expect(report?.warnings.join('\n')).toContain(`key "${pattern}" never matches: regular expression could take exponential time`);
      } else {
        // The fourth is never scanned: the book is left out, and the report says why.
        expect(seen(h.fake)[0]).not.toContain('HOSTILE');
        expect(report?.lines[0]).toBe(`The lorebook "Hostile" was left out: its owner's regular expressions stalled the scan ${MAX_STRIKES} times within the hour.`);
        expect(report?.warnings.join('\n')).not.toContain(pattern);
      }
    }
    // Once the hour from the first strike is over, the book is scanned again (its newest pattern
    // is then caught like the others were).
    clock.advance(3_600_000);
    await say(h.engine, inbound({ text: 'a dragon' }));
    expect(seen(h.fake)[0]).toContain('HOSTILE lore.');
  });
});

describe('lorebook commands', () => {
  it('/admin lorebook attaches a platform lorebook to the chat, and /status tells what fired', async () => {
    h = await startHarness();
    const book = newLoreBook({ name: 'Harbour', entries: [newLoreEntry({ id: 7, keys: ['harbour'], content: 'HARBOUR lore.', name: 'The harbour' })] });
    await h.store.lorebooks.create('admin', { name: 'Harbour', description: null, book: JSON.stringify(book) });
    expect((await say(h.engine, inbound({ text: '/admin lorebook attach Harbour' }))).notices).toEqual(['Only chat admins can do that.']);
    const attached = await say(h.engine, inbound({ text: '/admin lorebook attach Harbour', senderIsAdmin: true }));
    expect(attached.notices).toEqual(['Lorebook "Harbour" attached to this chat.']);
    expect((await say(h.engine, inbound({ text: '/admin lorebook attach Nowhere', senderIsAdmin: true }))).notices[0]).toMatch(/No lorebook named "Nowhere"/);

    await say(h.engine, inbound({ text: 'To the harbour!' }));
    expect(seen(h.fake)[0]).toMatch(/^system: HARBOUR lore\./);
    const status = await say(h.engine, inbound({ text: '/status' }));
    expect(status.notices[0]).toContain('Lorebook, last turn:\n+ The harbour (Harbour #7): key "harbour"');

    await say(h.engine, inbound({ text: '/admin lorebook detach Harbour', senderIsAdmin: true }));
    await say(h.engine, inbound({ text: 'To the harbour!' }));
    expect(seen(h.fake)[0]).not.toContain('HARBOUR');
  });
});

async function latestConversation(harness: Harness): Promise<string> {
  const row = await harness.store.db.selectFrom('conversations').select('id').orderBy('created_at', 'desc').executeTakeFirstOrThrow();
  return row.id;
}
