import { strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { newCard, parseCardText, placeholderAvatar, readCharx, toCardV3Json, writeCardCharx } from '../../src/cards/index.js';
import { readFixture } from '../fixtures/cards/make.js';
import { expectCardError } from './helpers.js';

const quill = () => parseCardText(readFixture('quill.v3.json').toString('utf8'));
const zip = (files: Record<string, Uint8Array | string>) =>
  Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? strToU8(v) : v]))));
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);

describe('reading CHARX', () => {
  it('reads the fixture: the card, its main icon as the avatar, and every other file', () => {
    const { card, icon, files } = readCharx(readFixture('quill.charx'));
    expect(card).toEqual(quill());
    expect(Object.keys(files).sort()).toEqual([
      'assets/background/images/reading-room.png', 'assets/emotion/images/happy.png', 'assets/icon/images/main.png',
    ]);
    expect(icon?.mime).toBe('image/png');
    expect(icon?.bytes.equals(placeholderAvatar('Quill'))).toBe(true);
  });

  it('finds the icon named main, under either spelling of embedded://', () => {
    const card = newCard({
      name: 'Icons',
      assets: [
        { type: 'icon', uri: 'embeded://assets/icon/images/side.png', name: 'side', ext: 'png' },
        { type: 'ICON', uri: 'embedded://assets/icon/images/front.jpeg', name: 'main', ext: 'jpeg' },
      ],
    });
    const side = placeholderAvatar('side', 2);
    const read = readCharx(zip({ 'card.json': JSON.stringify(toCardV3Json(card)), 'assets/icon/images/side.png': side, 'assets/icon/images/front.jpeg': JPEG }));
    expect(read.icon).toEqual({ bytes: JPEG, mime: 'image/jpeg' });
  });

  it('has no avatar when the icon is not in the zip', () => {
    const card = newCard({ name: 'Remote', assets: [{ type: 'icon', uri: 'ccdefault:', name: 'main', ext: 'png' }] });
    expect(readCharx(zip({ 'card.json': JSON.stringify(toCardV3Json(card)) })).icon).toBeUndefined();
  });

  it('reads a zip glued behind a JPEG, as RisuAI exports', () => {
    const glued = Buffer.concat([JPEG, readFixture('quill.charx')]);
    expect(readCharx(glued).card).toEqual(quill());
  });

  it('names what is wrong with a broken archive', () => {
    expectCardError(() => readCharx(Buffer.from('no zip here')), 'BAD_ZIP');
    const fixture = readFixture('quill.charx');
    expectCardError(() => readCharx(fixture.subarray(0, fixture.length - 30)), 'BAD_ZIP');
    expect(expectCardError(() => readCharx(zip({ 'readme.txt': 'hi', 'nested/card.json': '{}' })), 'NO_CARD_JSON').message).toContain('card.json');
    expectCardError(() => readCharx(zip({ 'card.json': '{"spec":' })), 'BAD_JSON');
    expectCardError(() => readCharx(zip({ 'card.json': new Uint8Array([0xff, 0xfe]) })), 'BAD_JSON');
    expectCardError(() => readCharx(fixture, 1000), 'TOO_LARGE');
  });
});

describe('writing CHARX', () => {
  it('round-trips the card and its files', () => {
    const { card, icon, files } = readCharx(readFixture('quill.charx'));
    const again = readCharx(writeCardCharx(card, { ...(icon ? { avatar: icon.bytes } : {}), files }));
    expect(again.card).toEqual(card);
    expect(again.files).toEqual(files);
  });

  it('adds a main icon asset for an avatar of a card without one', () => {
    const avatar = placeholderAvatar('Pip', 4);
    const { card, icon, files } = readCharx(writeCardCharx(newCard({ name: 'Pip' }), { avatar }));
    expect(card.assets).toEqual([{ type: 'icon', uri: 'embeded://assets/icon/images/main.png', name: 'main', ext: 'png' }]);
    expect(icon?.bytes.equals(avatar)).toBe(true);
    expect(Object.keys(files)).toEqual(['assets/icon/images/main.png']);
  });

  it('replaces the main icon when the new avatar is another image type', () => {
    const { card, files } = readCharx(readFixture('quill.charx'));
    const out = readCharx(writeCardCharx(card, { avatar: JPEG, files }));
    expect(out.icon).toEqual({ bytes: JPEG, mime: 'image/jpeg' });
    expect(out.card.assets?.filter((a) => a.type === 'icon')).toEqual([
      { type: 'icon', uri: 'embeded://assets/icon/images/main.jpeg', name: 'main', ext: 'jpeg' },
    ]);
    expect(out.card.assets?.slice(1)).toEqual(card.assets?.slice(1));
    expect(out.files).not.toHaveProperty(['assets/icon/images/main.png']);
  });

  it('refuses to write a card whose embedded assets are missing, or unsafe paths', () => {
    const err = expectCardError(() => writeCardCharx(quill()), 'MISSING_ASSET');
    expect(err.message).toContain('embeded://assets/icon/images/main.png');
    expectCardError(() => writeCardCharx(newCard({ name: 'x' }), { files: { '../escape.png': JPEG } }), 'BAD_FIELD');
    expectCardError(() => writeCardCharx(newCard({ name: 'x' }), { avatar: Buffer.from('not an image') }), 'BAD_FIELD');
  });
});
