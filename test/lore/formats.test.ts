import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import {
  exportCharacterBook,
  exportWorldInfo,
  importCharacterBook,
  importLorebook,
  importWorldInfo,
} from '../../src/lore/index.js';
import { fired, run } from './helpers.js';

/** A world-info file as SillyTavern writes it, plus a field from some other tool. */
const worldInfo = {
  entries: {
    '0': {
      uid: 0,
      key: ['Thornwick', '/thorn\\s?wick/i'],
      keysecondary: ['gate'],
      comment: 'Thornwick village',
      content: 'Thornwick is a walled village that shuts its gate at dusk.',
      constant: false,
      vectorized: false,
      selective: true,
      selectiveLogic: 3,
      addMemo: true,
      order: 120,
      position: 4,
      disable: false,
      excludeRecursion: true,
      preventRecursion: false,
      delayUntilRecursion: 2,
      probability: 75,
      useProbability: true,
      depth: 3,
      group: 'places',
      groupOverride: false,
      groupWeight: 100,
      scanDepth: 5,
      caseSensitive: true,
      matchWholeWords: false,
      useGroupScoring: null,
      automationId: '',
      role: 2,
      sticky: 2,
      cooldown: null,
      delay: null,
      displayIndex: 0,
      characterFilter: { isExclude: false, names: [], tags: [] },
      triggers: ['normal'],
      ignoreBudget: false,
      outletName: '',
    },
    '7': {
      uid: 7,
      key: [],
      keysecondary: [],
      comment: '',
      content: 'Magic costs a memory.',
      constant: true,
      selective: false,
      selectiveLogic: 0,
      order: 100,
      position: 0,
      disable: true,
      excludeRecursion: false,
      preventRecursion: false,
      delayUntilRecursion: false,
      probability: 100,
      useProbability: false,
      depth: 4,
      scanDepth: null,
      caseSensitive: null,
      matchWholeWords: null,
      role: 0,
      'x-editor-color': { hue: 200 },
    },
  },
};

/** A character_book as SillyTavern exports it, with another app's extension and an unknown field. */
const characterBook = {
  name: 'Harbor lore',
  description: 'Notes for the harbor town',
  scan_depth: 3,
  token_budget: 500,
  recursive_scanning: true,
  extensions: { 'other_app/theme': 'sea' },
  entries: [
    {
      id: 0,
      keys: ['ferry'],
      secondary_keys: [],
      comment: 'Ferry',
      content: 'The ferry runs twice a day.',
      constant: false,
      selective: true,
      insertion_order: 100,
      enabled: true,
      position: 'before_char',
      use_regex: true,
      extensions: {
        position: 0, exclude_recursion: false, display_index: 0, probability: 100, useProbability: true, depth: 4,
        selectiveLogic: 0, group: '', group_override: false, group_weight: 100, prevent_recursion: false,
        delay_until_recursion: false, scan_depth: null, match_whole_words: null, use_group_scoring: false,
        case_sensitive: null, automation_id: '', role: 0, vectorized: false, sticky: 0, cooldown: 0, delay: 0,
        'other_app/mood': 'calm',
      },
    },
    {
      id: 1,
      keys: ['tide'],
      secondary_keys: ['moon'],
      comment: '',
      content: 'Spring tides flood the lower docks.',
      constant: false,
      selective: true,
      insertion_order: 40,
      enabled: false,
      position: 'after_char',
      use_regex: true,
      name: 'Tides',
      priority: 5,
      case_sensitive: false,
      x_note: 'kept',
      extensions: {
        position: 1, exclude_recursion: true, probability: 30, useProbability: true, depth: 2, selectiveLogic: 2,
        prevent_recursion: true, delay_until_recursion: 1, scan_depth: 4, match_whole_words: true,
        case_sensitive: false, role: 1,
      },
    },
  ],
};

describe('SillyTavern world info', () => {
  it('round-trips without losing or changing a field', () => {
    expect(exportWorldInfo(importWorldInfo(structuredClone(worldInfo)))).toEqual(worldInfo);
  });

  it('reads the fields it interprets', () => {
    const [thorn, rule] = importWorldInfo(worldInfo, { name: 'Vale' }).entries;
    expect(thorn).toMatchObject({
      id: 0, logic: 'and_all', position: 'at_depth', role: 'assistant', depth: 3, delayUntilRecursion: 2,
      caseSensitive: true, matchWholeWords: false, scanDepth: 5, excludeRecursion: true, probability: 75,
    });
    expect(thorn?.extras).toMatchObject({ group: 'places', sticky: 2, characterFilter: { isExclude: false, names: [], tags: [] } });
    expect(rule).toMatchObject({ id: 7, enabled: false, constant: true, position: 'before_char', useProbability: false });
  });

  it('survives a trip through a character_book', () => {
    const viaCard = importCharacterBook(exportCharacterBook(importWorldInfo(structuredClone(worldInfo))));
    expect(exportWorldInfo(viaCard)).toEqual(worldInfo);
  });

  it('names the bad field', () => {
    const bad = { entries: { '3': { key: ['x'], probability: 150 } } };
    expect(() => importWorldInfo(bad)).toThrow('world info entries["3"].probability must be a number from 0 to 100');
    expect(() => importWorldInfo({ entries: [] })).toThrow('world info entries must be an object of entries keyed by uid');
  });
});

describe('character_book (V2/V3 cards)', () => {
  it('round-trips without losing or changing a field', () => {
    expect(exportCharacterBook(importCharacterBook(structuredClone(characterBook)))).toEqual(characterBook);
  });

  it("keeps SillyTavern's meaning of use_regex on SillyTavern exports: plain keys stay plain", () => {
    const lore = importCharacterBook(characterBook);
    expect(lore.entries.map((e) => e.useRegex)).toEqual([false, false]);
    expect(lore.entries[1]).toMatchObject({ enabled: false, logic: 'not_any', role: 'user', delayUntilRecursion: 1, name: 'Tides', priority: 5 });
    expect(lore.entries[0]?.extensions).toEqual({ 'other_app/mood': 'calm' });
  });

  it('treats use_regex keys as patterns on other cards, and keeps that through our own export', () => {
    const card = { entries: [{ keys: ['wave(s)?\\b'], content: 'Waves crash.', extensions: { risu_flag: 1 }, enabled: true, insertion_order: 10, use_regex: true }] };
    const lore = importCharacterBook(card);
    expect(fired(run(lore, ['The waves rise.']))).toEqual(['Waves crash.']);
    const exported = exportCharacterBook(lore);
    expect(exported).toMatchObject(card);
    expect(importCharacterBook(exported)).toEqual(lore);
  });

  it('survives a trip through a world-info file', () => {
    const once = exportCharacterBook(importCharacterBook(structuredClone(characterBook)));
    expect(exportCharacterBook(importWorldInfo(exportWorldInfo(importCharacterBook(once))))).toEqual(characterBook);
  });

  it('names the bad field', () => {
    expect(() => importCharacterBook({ entries: [{ keys: 'ferry' }] })).toThrow('character_book entries[0].keys must be a list of strings');
    expect(() => importCharacterBook({ entries: [{ keys: [], extensions: { position: 9 } }] })).toThrow(
      'character_book entries[0].extensions.position must be a whole number from 0 to 7',
    );
    expect(() => importCharacterBook({ entries: [{ position: 'middle' }] })).toThrow(ValidationError);
  });
});

describe('importLorebook', () => {
  it('recognises world info, character books, V3 lorebooks and whole cards', () => {
    expect(importLorebook(worldInfo).entries).toHaveLength(2);
    expect(importLorebook(characterBook).name).toBe('Harbor lore');
    expect(importLorebook({ spec: 'lorebook_v3', data: characterBook }).entries).toHaveLength(2);
    expect(importLorebook({ spec: 'chara_card_v3', spec_version: '3.0', data: { character_book: characterBook } }, { name: 'x' }).name).toBe('x');
    expect(() => importLorebook({ spec: 'chara_card_v2', data: {} })).toThrow('character card has no data.character_book');
    expect(() => importLorebook({ hello: 1 })).toThrow(/lorebook must be a SillyTavern world info file/);
    expect(() => importLorebook([1])).toThrow('lorebook must be a JSON object');
  });
});
