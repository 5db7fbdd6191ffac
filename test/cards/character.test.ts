import { describe, expect, it } from 'vitest';
import {
  cardFromCharacter,
  characterFromCard,
  newCard,
  readCardFile,
  toCardV3Json,
  writeCardCharx,
  writeCardJson,
  writeCardPng,
  type Card,
} from '../../src/cards/index.js';
import { readFixture } from '../fixtures/cards/make.js';

const FIXTURES = ['marisol.v2.json', 'marisol.v2.png', 'bram.v1.json', 'quill.v3.json', 'quill.charx'];

describe('card ↔ character mapping', () => {
  it('maps card fields onto character fields, empty text as not set, and never applies the create bounds', () => {
    const c = characterFromCard(newCard({ name: 'Tiny', personality: 'shy', first_mes: 'Hi {{user}}', alternate_greetings: ['Yo'], nickname: '' }));
    expect(c).toMatchObject({
      name: 'Tiny',
      personality: 'shy',
      speakingStyle: '',
      greeting: 'Hi {{user}}',
      description: null,
      scenario: null,
      nickname: null,
      alternateGreetings: ['Yo'],
      groupGreetings: [],
      gender: null,
      canInitiateConversation: false,
    });
  });

  it.each(FIXTURES)('gives back exactly the card it was imported from (%s)', (name) => {
    const { card } = readCardFile(readFixture(name));
    expect(cardFromCharacter(characterFromCard(card), card)).toEqual(card);
  });

  it('writes changed fields over the stored card and keeps the rest verbatim', () => {
    const { card } = readCardFile(readFixture('marisol.v2.json'));
    const fields = { ...characterFromCard(card), greeting: 'Changed', speakingStyle: 'Terse', age: 41 };
    const out = cardFromCharacter(fields, card);
    expect(out.first_mes).toBe('Changed');
    expect(out.character_book).toEqual(card.character_book);
    expect(out.creator_notes).toBe(card.creator_notes);
    expect(out.extensions['charbridge']).toEqual({ speakingStyle: 'Terse', age: 41 });
    expect(characterFromCard(out)).toEqual(fields);
  });

  it('carries our own fields in extensions.charbridge only when set, so a plain character exports a plain card', () => {
    const plain = characterFromCard(newCard({ name: 'Plain' }));
    expect(cardFromCharacter(plain).extensions).toEqual({});
    const rich = { ...plain, speakingStyle: 'Warm', gender: 'female' as const, occupation: 'Pilot', canInitiateConversation: true, model: 'm-1' };
    const card = cardFromCharacter(rich);
    expect(card.extensions['charbridge']).toEqual({ speakingStyle: 'Warm', gender: 'female', occupation: 'Pilot', canInitiateConversation: true, model: 'm-1' });
    expect(characterFromCard(card)).toEqual(rich);
  });

  it('round-trips through every file format both ways', () => {
    const fields = { ...characterFromCard(newCard({ name: 'Nova', description: 'A pilot', tags: ['space'] })), speakingStyle: 'Calm', age: 31 };
    const card: Card = cardFromCharacter(fields);
    const files = [writeCardPng(card), Buffer.from(writeCardJson(card)), writeCardCharx(card)];
    for (const file of files) {
      const back = readCardFile(file).card;
      expect(toCardV3Json(back)).toEqual(toCardV3Json(card));
      expect(characterFromCard(back)).toEqual(fields);
    }
  });
});
