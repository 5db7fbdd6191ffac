import { describe, expect, it } from 'vitest';
import {
  newCard, parseCardText, placeholderAvatar, readCardFile, readPngChunks, readPngTexts, writeCardCharx, writeCardJson, writeCardPng,
} from '../../src/cards/index.js';
import { buildFixtures, readFixture } from '../fixtures/cards/make.js';
import { expectCardError } from './helpers.js';

const fromJson = (name: string) => parseCardText(readFixture(name).toString('utf8'));

describe('readCardFile on the fixtures', () => {
  it('reads the V2 PNG to the same card as its JSON, with the clean picture as avatar', () => {
    const { card, format, avatar } = readCardFile(readFixture('marisol.v2.png'));
    expect(format).toBe('png');
    expect(card).toEqual(fromJson('marisol.v2.json'));
    expect(card.character_book?.entries).toHaveLength(3);
    expect(avatar?.mime).toBe('image/png');
    expect(avatar?.bytes.equals(placeholderAvatar('Marisol Vane'))).toBe(true);
  });

  it('reads the V2 and V1 JSON cards', () => {
    expect(readCardFile(readFixture('marisol.v2.json'))).toEqual({ card: fromJson('marisol.v2.json'), format: 'json' });
    const v1 = readCardFile(readFixture('bram.v1.json'));
    expect(v1).toEqual({ card: fromJson('bram.v1.json'), format: 'json' });
    expect(v1.card.name).toBe('Bram Tollver');
  });

  it('reads the V3 CHARX with its icon and asset files', () => {
    const read = readCardFile(readFixture('quill.charx'));
    expect(read.format).toBe('charx');
    expect(read.card).toEqual(fromJson('quill.v3.json'));
    expect(read.avatar?.mime).toBe('image/png');
    expect(Object.keys(read.files ?? {})).toHaveLength(3);
  });

  it('match what make.ts builds today', () => {
    for (const [name, bytes] of Object.entries(buildFixtures())) expect(bytes.equals(readFixture(name)), name).toBe(true);
  });
});

describe('readCardFile detection', () => {
  const card = newCard({ name: 'Detect', first_mes: 'Hello, {{user}}.' });

  it('goes by the bytes, not the content type', () => {
    expect(readCardFile(writeCardPng(card), 'application/json').format).toBe('png');
    expect(readCardFile(Buffer.from(writeCardJson(card)), 'image/png').format).toBe('json');
    expect(readCardFile(writeCardCharx(card), 'text/plain').format).toBe('charx');
  });

  it('reads JSON with a byte order mark and leading whitespace', () => {
    const text = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`\n  ${writeCardJson(card, 'v2')}`)]);
    expect(readCardFile(text).card).toEqual(card);
  });

  it('uses the content type to say what is wrong with bytes that match no format', () => {
    const junk = Buffer.from('definitely not a card');
    expectCardError(() => readCardFile(junk), 'NOT_A_CARD_FILE');
    expectCardError(() => readCardFile(junk, 'image/png'), 'NOT_PNG');
    expectCardError(() => readCardFile(junk, 'application/json; charset=utf-8'), 'BAD_JSON');
    expectCardError(() => readCardFile(junk, 'application/zip'), 'BAD_ZIP');
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]);
    expect(expectCardError(() => readCardFile(jpeg, 'image/jpeg'), 'NOT_A_CARD_FILE').message).toContain('image/jpeg');
    expectCardError(() => readCardFile(Buffer.from([0x7b, 0xff, 0xfe])), 'BAD_JSON');
  });
});

describe('writers', () => {
  it('writeCardPng without an avatar uses the placeholder and embeds both card chunks', () => {
    const card = newCard({ name: 'Faceless' });
    const png = writeCardPng(card);
    expect(readPngTexts(readPngChunks(png)).map((t) => t.keyword)).toEqual(['chara', 'ccv3']);
    const read = readCardFile(png);
    expect(read.card).toEqual(card);
    expect(read.avatar?.bytes.equals(placeholderAvatar('Faceless'))).toBe(true);
  });

  it('writeCardJson writes V3 unless V2 is asked for', () => {
    const card = newCard({ name: 'Versions' });
    expect(JSON.parse(writeCardJson(card))).toMatchObject({ spec: 'chara_card_v3', spec_version: '3.0', data: { name: 'Versions' } });
    expect(JSON.parse(writeCardJson(card, 'v2'))).toMatchObject({ spec: 'chara_card_v2', spec_version: '2.0', data: { name: 'Versions' } });
  });
});
