import { describe, expect, it } from 'vitest';
import { book, fired, run } from './helpers.js';

describe('primary keys', () => {
  const lighthouse = book([{ keys: ['lighthouse'], content: 'The lighthouse on Gull Point has been dark for years.' }]);
  const chat = ['We sailed past the lighthouse.', 'Nice weather.', 'Shall we eat?'];

  it('are looked for in the last scan-depth messages only, entry overriding the default', () => {
    expect(fired(run(lighthouse, chat))).toEqual([]);
    expect(fired(run(lighthouse, chat, { settings: { scanDepth: 3 } }))).toHaveLength(1);
    const deepEntry = book([{ keys: ['lighthouse'], content: 'deep', scanDepth: 3 }]);
    expect(fired(run(deepEntry, chat))).toEqual(['deep']);
    const shallowBook = book([{ keys: ['weather'], content: 'rain' }], { scanDepth: 1 });
    expect(fired(run(shallowBook, chat))).toEqual([]);
  });

  it('also match in the extra scan text, even at scan depth 0', () => {
    const r = run(lighthouse, chat, { scanText: 'Note: the lighthouse keeper is watching.', settings: { scanDepth: 0 } });
    expect(fired(r)).toHaveLength(1);
  });

  it('match without regard to case unless the entry is case-sensitive', () => {
    const b = book([
      { keys: ['Rowan'], content: 'loose' },
      { keys: ['Rowan'], content: 'strict', caseSensitive: true },
    ]);
    expect(fired(run(b, ['a rowan tree']))).toEqual(['loose']);
    expect(fired(run(b, ['Rowan said hi']))).toEqual(['loose', 'strict']);
    expect(fired(run(b, ['a rowan tree'], { settings: { caseSensitive: true } }))).toEqual([]);
  });

  it('match whole words by default; keys with spaces and opted-out entries match inside words', () => {
    const b = book([
      { keys: ['ash'], content: 'word' },
      { keys: ['ash'], content: 'part', matchWholeWords: false },
      { keys: ['old mill'], content: 'phrase' },
    ]);
    expect(fired(run(b, ['She was washing dishes near the bold millpond.']))).toEqual(['part', 'phrase']);
    expect(fired(run(b, ['Grey ash, everywhere.']))).toEqual(['word', 'part']);
    expect(fired(run(b, ['Ashé and Übash']))).toEqual(['part']);
  });

  it('written /pattern/flags are regular expressions; use_regex makes every key one', () => {
    const b = book([
      { keys: ['/glow(ing)?\\s+moss/i'], content: 'slash' },
      { keys: ['sil(ver|ber)fin'], content: 'use_regex', useRegex: true },
      { keys: ['sil(ver|ber)fin'], content: 'plain' },
      { keys: ['(unclosed'], content: 'invalid', useRegex: true },
    ]);
    expect(fired(run(b, ['GLOWING   moss lines the cave, a silberfin swims by (unclosed']))).toEqual(['slash', 'use_regex']);
    expect(fired(run(b, ['text with sil(ver|ber)fin written out']))).toEqual(['plain']);
  });

  it('refuse regular expressions that could backtrack for ever, and say so', () => {
    const b = book(
      [
        { keys: ['/(a+)+$/'], content: 'unsafe', comment: 'Screams' },
        { keys: ['(b'], content: 'invalid', useRegex: true, id: 'bad' },
        { keys: ['/(c/'], content: 'plain text key' },
      ],
      { name: 'Cave' },
    );
    const r = run(b, ['aaa b (b /(c/']);
    expect(fired(r)).toEqual(['plain text key']);
    expect(r.warnings).toEqual([
      `Cave #${b.entries[0]?.id} "Screams": key "/(a+)+$/" never matches: regular expression could take exponential time`,
      'Cave #bad "(b": key "(b" never matches: invalid regular expression',
    ]);
  });

  it('scan "name: text" when a message carries a name, unless names are off', () => {
    const b = book([{ keys: ['/\\x01Mara:[^\\x01]*lantern/'], content: 'Mara asked about the lantern' }]);
    const chat = [{ name: 'Mara', text: 'Where is the lantern?' }, { name: 'Tob', text: 'No idea.' }];
    expect(fired(run(b, chat))).toHaveLength(1);
    expect(fired(run(b, chat, { settings: { includeNames: false } }))).toEqual([]);
  });
});
