import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  encodePng, encodeTextChunk, newCard, placeholderAvatar, placeholderColour, readCardPng, readPngChunks, readPngTexts,
  setPngTexts, toCardV2Json, toCardV3Json, writeCardPng, type PngChunk,
} from '../../src/cards/index.js';
import { expectCardError } from './helpers.js';

const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
const withChunks = (png: Buffer, added: PngChunk[]) => {
  const chunks = readPngChunks(png);
  return encodePng([...chunks.slice(0, -1), ...added, ...chunks.slice(-1)]);
};
/** Offset of the first chunk of `type` inside `png`, found by walking lengths. */
function chunkOffset(png: Buffer, type: string): number {
  for (let at = 8; at < png.length; at += 12 + png.readUInt32BE(at)) if (png.toString('latin1', at + 4, at + 8) === type) return at;
  throw new Error(`no ${type}`);
}

const alpha = newCard({ name: 'Alpha', description: 'from the chara chunk' });
const beta = newCard({ name: 'Beta', description: 'from the ccv3 chunk', nickname: 'B' });

describe('PNG chunks', () => {
  it('splits and re-encodes a PNG byte for byte', () => {
    const png = placeholderAvatar('Round Trip', 8);
    const chunks = readPngChunks(png);
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(encodePng(chunks).equals(png)).toBe(true);
  });

  it('reports a wrong signature as NOT_PNG', () => {
    expectCardError(() => readPngChunks(Buffer.from('GIF89a not a png at all')), 'NOT_PNG');
  });

  it('reports a failed CRC as BAD_PNG, naming the chunk', () => {
    const png = writeCardPng(alpha);
    for (const type of ['IDAT', 'tEXt']) {
      const broken = Buffer.from(png);
      const at = chunkOffset(broken, type) + 10;
      broken[at] = (broken[at] ?? 0) ^ 0xff;
      const err = expectCardError(() => readCardPng(broken), 'BAD_PNG');
      expect(err.message).toContain(`${type} chunk`);
      expect(err.message).toContain('CRC');
    }
  });

  it('reports cut-off and malformed files as BAD_PNG', () => {
    const png = writeCardPng(alpha);
    expect(expectCardError(() => readPngChunks(png.subarray(0, png.length - 12)), 'BAD_PNG').message).toContain('IEND');
    expect(expectCardError(() => readPngChunks(png.subarray(0, 60)), 'BAD_PNG').message).toContain('IDAT chunk at byte 33 claims');
    expectCardError(() => readPngChunks(png.subarray(0, 8)), 'BAD_PNG');
    const noHeader = encodePng(readPngChunks(png).filter((c) => c.type !== 'IHDR'));
    expect(expectCardError(() => readPngChunks(noHeader), 'BAD_PNG').message).toContain('not IHDR');
  });

  it('decodes tEXt, zTXt and iTXt, compressed or not', () => {
    const png = withChunks(placeholderAvatar('Texts', 4), [
      encodeTextChunk('Title', 'Caf\u00e9 latin-1'),
      encodeTextChunk('Comment', 'squeezed latin-1', 'zTXt'),
      encodeTextChunk('Author', 'plain UTF-8 \u2603', 'iTXt'),
      encodeTextChunk('Description', 'deflated UTF-8 \u{1f30a}'.repeat(20), 'iTXt', true),
    ]);
    expect(readPngTexts(readPngChunks(png))).toEqual([
      { keyword: 'Title', text: 'Caf\u00e9 latin-1', chunk: 'tEXt' },
      { keyword: 'Comment', text: 'squeezed latin-1', chunk: 'zTXt' },
      { keyword: 'Author', text: 'plain UTF-8 \u2603', chunk: 'iTXt' },
      { keyword: 'Description', text: 'deflated UTF-8 \u{1f30a}'.repeat(20), chunk: 'iTXt' },
    ]);
  });
});

describe('cards inside PNGs', () => {
  it('prefers ccv3 over chara, whichever comes first', () => {
    for (const order of [['chara', 'ccv3'], ['ccv3', 'chara']]) {
      const texts = order.map((keyword) => ({ keyword, text: base64Json(keyword === 'ccv3' ? toCardV3Json(beta) : toCardV2Json(alpha)) }));
      expect(readCardPng(setPngTexts(placeholderAvatar('x', 4), texts)).card).toEqual(beta);
    }
  });

  it('reads a V2 card from a lone chara chunk, whatever the keyword case', () => {
    const png = setPngTexts(placeholderAvatar('x', 4), [{ keyword: 'Chara', text: base64Json(toCardV2Json(alpha)) }]);
    expect(readCardPng(png).card).toEqual(alpha);
  });

  it('reads a card from a zlib-compressed iTXt chunk', () => {
    const png = withChunks(placeholderAvatar('x', 4), [encodeTextChunk('ccv3', base64Json(toCardV3Json(beta)), 'iTXt', true)]);
    expect(readCardPng(png).card).toEqual(beta);
  });

  it('says which part of an embedded card is broken', () => {
    const avatar = placeholderAvatar('x', 4);
    const withText = (keyword: string, text: string) => setPngTexts(avatar, [{ keyword, text }]);
    expectCardError(() => readCardPng(avatar), 'NO_CARD_CHUNK');
    expectCardError(() => readCardPng(withText('Comment', base64Json(toCardV2Json(alpha)))), 'NO_CARD_CHUNK');
    expect(expectCardError(() => readCardPng(withText('ccv3', '{not base64!}')), 'BAD_BASE64').message).toContain('"ccv3" chunk');
    expectCardError(() => readCardPng(withText('chara', Buffer.from([0xff, 0xfe, 0x80]).toString('base64'))), 'BAD_BASE64');
    expect(expectCardError(() => readCardPng(withText('chara', Buffer.from('{"name":').toString('base64'))), 'BAD_JSON').message).toContain('"chara" chunk');
    expectCardError(() => readCardPng(withText('chara', base64Json({ spec: 'chara_card_v9', data: {} }))), 'UNKNOWN_SPEC');
    expectCardError(() => readCardPng(withText('chara', base64Json({ description: 'who?' }))), 'MISSING_NAME');
  });

  it('writes chara (V2) and ccv3 (V3) as the last chunks before IEND, replacing older copies and keeping the rest', () => {
    const stale = withChunks(placeholderAvatar('Beta', 16), [
      encodeTextChunk('Software', 'some editor'),
      encodeTextChunk('chara', base64Json(toCardV2Json(alpha))),
      encodeTextChunk('CCV3', base64Json(toCardV3Json(alpha)), 'iTXt', true),
    ]);
    const png = writeCardPng(beta, writeCardPng(alpha, stale));
    const chunks = readPngChunks(png);
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'tEXt', 'tEXt', 'tEXt', 'IEND']);
    expect(chunks[1]?.data.equals(readPngChunks(stale)[1]?.data ?? Buffer.alloc(0))).toBe(true);
    const texts = readPngTexts(chunks);
    expect(texts.map((t) => t.keyword)).toEqual(['Software', 'chara', 'ccv3']);
    expect(JSON.parse(Buffer.from(texts[1]?.text ?? '', 'base64').toString('utf8'))).toEqual(toCardV2Json(beta));
    expect(JSON.parse(Buffer.from(texts[2]?.text ?? '', 'base64').toString('utf8'))).toEqual(toCardV3Json(beta));
  });

  it('hands back the picture without the card chunks as the avatar', () => {
    const picture = withChunks(placeholderAvatar('Pic', 8), [encodeTextChunk('Software', 'kept')]);
    const { card, avatar } = readCardPng(writeCardPng(beta, picture));
    expect(card).toEqual(beta);
    expect(avatar.equals(picture)).toBe(true);
  });

  it('refuses an avatar that is not a PNG', () => {
    expectCardError(() => writeCardPng(alpha, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0])), 'NOT_PNG');
  });
});

describe('placeholder avatar', () => {
  it('is a valid PNG filled with the colour of the name', () => {
    const size = 24;
    const chunks = readPngChunks(placeholderAvatar('Marisol Vane', size));
    const header = chunks[0]?.data ?? Buffer.alloc(0);
    expect([header.readUInt32BE(0), header.readUInt32BE(4), header[8], header[9]]).toEqual([size, size, 8, 2]);
    const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
    expect(raw.length).toBe(size * (1 + size * 3));
    const colour = placeholderColour('Marisol Vane');
    for (let y = 0; y < size; y++) {
      const row = raw.subarray(y * (1 + size * 3), (y + 1) * (1 + size * 3));
      expect(row[0]).toBe(0);
      for (let x = 0; x < size; x++) expect([...row.subarray(1 + x * 3, 4 + x * 3)]).toEqual(colour);
    }
  });

  it('is the same for the same name and differs between names', () => {
    expect(placeholderAvatar('Quill').equals(placeholderAvatar('Quill'))).toBe(true);
    expect(placeholderColour('Quill')).not.toEqual(placeholderColour('Bram Tollver'));
  });
});
