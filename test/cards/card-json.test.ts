import { describe, expect, it } from 'vitest';
import { newCard, parseCard, parseCardText, toCardV2Json, toCardV3Json, writeCardJson, type Card } from '../../src/cards/index.js';
import { readFixture } from '../fixtures/cards/make.js';
import { expectCardError } from './helpers.js';

const json = (name: string) => JSON.parse(readFixture(name).toString('utf8')) as Record<string, any>;

describe('parsing card JSON into one card', () => {
  it('reads a V1 card, moving SillyTavern extras where its V2 writer puts them and keeping the rest', () => {
    const raw = json('bram.v1.json');
    const card = parseCard(raw);
    for (const field of ['name', 'description', 'personality', 'scenario', 'first_mes', 'mes_example', 'creator'] as const) {
      expect(card[field]).toBe(raw[field]);
    }
    expect(card.creator_notes).toBe(raw['creatorcomment']);
    expect(card.tags).toEqual(String(raw['tags']).split(',').map((t) => t.trim()));
    expect(card.extensions).toEqual({ talkativeness: raw['talkativeness'], fav: raw['fav'] });
    const extras = card as unknown as Record<string, unknown>;
    for (const key of ['avatar', 'chat', 'create_date']) expect(extras[key]).toBe(raw[key]);
    expect(extras['creatorcomment']).toBeUndefined();
    expect(card).toMatchObject({ system_prompt: '', post_history_instructions: '', alternate_greetings: [], group_only_greetings: [], character_version: '' });
  });

  it('reads a V2 card with every field, its lorebook entries gaining the V3 use_regex default', () => {
    const raw = json('marisol.v2.json');
    const data = raw['data'];
    const card = parseCard(raw);
    expect(card).toEqual({
      ...data,
      group_only_greetings: [],
      character_book: { ...data.character_book, entries: data.character_book.entries.map((e: object) => ({ ...e, use_regex: false })) },
    });
    expect(card.extensions).toBe(data.extensions);
  });

  it('reads a V3 card with every field, including a key from a later spec', () => {
    const raw = json('quill.v3.json');
    expect(parseCard(raw)).toEqual(raw['data']);
  });

  it('takes data over the V1 copies SillyTavern leaves at the root of V2 and V3 cards', () => {
    const card = parseCard({ spec: 'chara_card_v3', spec_version: '3.0', name: 'Root copy', avatar: 'none', data: { name: 'Data name' } });
    expect(card.name).toBe('Data name');
    expect(card).not.toHaveProperty('avatar');
  });

  it('accepts the loose shapes older editors write', () => {
    const card = parseCard({
      spec: 'chara_card_v2',
      data: { name: 'Loose', description: null, alternate_greetings: 'Hello there', tags: 'a, b,,c', creator: 7, creation_date: '1700000000', nickname: null },
    });
    expect(card).toMatchObject({ description: '', alternate_greetings: ['Hello there'], tags: ['a', 'b', 'c'], creator: '7', creation_date: 1700000000 });
    expect(card).not.toHaveProperty('nickname');
  });

  it('fills a whole card from a few fields', () => {
    const card = newCard({ name: 'Pip', tags: ['tiny'] });
    expect(card).toEqual({
      name: 'Pip', description: '', personality: '', scenario: '', first_mes: '', mes_example: '', creator_notes: '',
      system_prompt: '', post_history_instructions: '', alternate_greetings: [], group_only_greetings: [], tags: ['tiny'],
      creator: '', character_version: '', extensions: {},
    });
  });
});

describe('card JSON errors name what is wrong', () => {
  it('rejects specs it does not know', () => {
    const err = expectCardError(() => parseCard({ spec: 'lorebook_v3', data: { entries: [] } }), 'UNKNOWN_SPEC');
    expect(err.message).toContain('lorebook_v3');
  });
  it('rejects cards without a name', () => {
    expectCardError(() => parseCard({ description: 'nameless' }), 'MISSING_NAME');
    const err = expectCardError(() => parseCard({ spec: 'chara_card_v2', data: { name: '   ' } }), 'MISSING_NAME');
    expect(err.details).toEqual({ field: 'data.name' });
  });
  it('rejects fields of the wrong shape, naming the field', () => {
    expectCardError(() => parseCard({ spec: 'chara_card_v3', spec_version: '3.0' }), 'BAD_FIELD');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ alternate_greetings: 5 }, 'data.alternate_greetings'],
      [{ extensions: ['x'] }, 'data.extensions'],
      [{ description: { text: 'x' } }, 'data.description'],
      [{ character_book: { entries: [{ keys: ['k'], content: 'c', insertion_order: 'soon' }] } }, 'data.character_book.entries[0].insertion_order'],
      [{ assets: [{ type: 'icon', uri: ['a.png'] }] }, 'data.assets[0].uri'],
    ];
    for (const [fields, field] of cases) {
      const err = expectCardError(() => parseCard({ spec: 'chara_card_v2', data: { name: 'X', ...fields } }), 'BAD_FIELD');
      expect(err.details).toEqual({ field });
      expect(err.message).toContain(field);
    }
  });
  it('rejects JSON that is not a card object', () => {
    expectCardError(() => parseCard([{ name: 'x' }]), 'BAD_JSON');
    const err = expectCardError(() => parseCardText('{"name": "x",'), 'BAD_JSON');
    expect(err.message).toMatch(/^The card JSON is not valid JSON: /);
  });
});

describe('export and import give back every field', () => {
  const cards: Array<[string, Card]> = [
    ['V1', parseCard(json('bram.v1.json'))],
    ['V2', parseCard(json('marisol.v2.json'))],
    ['V3', parseCard(json('quill.v3.json'))],
  ];
  it.each(cards)('%s card through V3 JSON, V2 JSON and written text', (_, card) => {
    const v3 = toCardV3Json(card);
    expect(v3).toMatchObject({ spec: 'chara_card_v3', spec_version: '3.0' });
    expect(parseCard(JSON.parse(JSON.stringify(v3)))).toEqual(card);
    const v2 = toCardV2Json(card);
    expect(v2).toMatchObject({ spec: 'chara_card_v2', spec_version: '2.0' });
    expect(parseCard(JSON.parse(JSON.stringify(v2)))).toEqual(card);
    expect(parseCardText(writeCardJson(card))).toEqual(card);
    expect(JSON.parse(writeCardJson(card, 'v2'))).toEqual(JSON.parse(JSON.stringify(v2)));
  });
  it('writes absent optional fields as absent, not null', () => {
    const data = toCardV3Json(newCard({ name: 'Pip' })).data as unknown as Record<string, unknown>;
    for (const key of ['nickname', 'character_book', 'assets', 'source', 'creation_date']) expect(data).not.toHaveProperty(key);
  });
});
