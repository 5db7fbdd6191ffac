import { parseCardText, toCardV2Json, toCardV3Json } from './card-json.js';
import { CardError } from './errors.js';
import { placeholderAvatar } from './placeholder.js';
import { decodePngText, encodePng, MAX_INFLATED_TEXT, readPngChunks, setPngTexts, textKeywordOf, isPng } from './png.js';
import type { Card } from './types.js';

/** The text chunk keywords a character card lives in: V3 first, as the V3 spec and SillyTavern read them. */
const CARD_KEYWORDS = ['ccv3', 'chara'] as const;

/**
 * Reads the card embedded in a PNG (`ccv3` preferred over `chara`, keywords case-insensitive,
 * tEXt/zTXt/iTXt alike) and returns the picture without the card chunks as the avatar, so the
 * stored image never carries a stale copy of the card. Only the card's own chunk is decoded,
 * inflated to at most `maxCardBytes`.
 */
export function readCardPng(png: Buffer, maxCardBytes = MAX_INFLATED_TEXT): { card: Card; avatar: Buffer } {
  const chunks = readPngChunks(png);
  const chunk = CARD_KEYWORDS.map((keyword) => chunks.find((c) => textKeywordOf(c)?.toLowerCase() === keyword)).find((c) => c !== undefined);
  if (!chunk) throw new CardError('NO_CARD_CHUNK', 'The PNG has no character card in it (no "ccv3" or "chara" text chunk)');
  const found = decodePngText(chunk, maxCardBytes);
  const where = `the PNG's "${found.keyword}" chunk`;
  const card = parseCardText(decodeBase64Text(found.text, where), where);
  const avatar = encodePng(chunks.filter((chunk) => !isCardKeyword(textKeywordOf(chunk))));
  return { card, avatar };
}

/**
 * Writes the card into a PNG the way SillyTavern does: a `chara` chunk with the V2 JSON and a
 * `ccv3` chunk with the V3 JSON, both base64 tEXt before IEND, replacing any earlier ones.
 * Without an avatar a placeholder derived from the name is used.
 */
export function writeCardPng(card: Card, avatar?: Buffer): Buffer {
  if (avatar !== undefined && !isPng(avatar)) {
    throw new CardError('NOT_PNG', 'The avatar for a PNG card must itself be a PNG image');
  }
  return setPngTexts(avatar ?? placeholderAvatar(card.name), [
    { keyword: 'chara', text: encodeBase64Json(toCardV2Json(card)) },
    { keyword: 'ccv3', text: encodeBase64Json(toCardV3Json(card)) },
  ]);
}

function isCardKeyword(keyword: string | undefined): boolean {
  if (keyword === undefined) return false;
  const lower = keyword.toLowerCase();
  return lower === 'chara' || lower === 'ccv3' || lower.startsWith('chara-ext-asset_');
}

function encodeBase64Json(json: unknown): string {
  return Buffer.from(JSON.stringify(json), 'utf8').toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict base64 → UTF-8: Buffer.from alone would silently skip garbage and hand on half a card. */
function decodeBase64Text(encoded: string, where: string): string {
  const compact = encoded.replace(/\s+/g, '');
  if (compact === '' || !BASE64.test(compact) || compact.replace(/=+$/, '').length % 4 === 1) {
    throw new CardError('BAD_BASE64', `${capitalize(where)} is not valid base64 text`);
  }
  try {
    return utf8.decode(Buffer.from(compact, 'base64')); // Node's decoder takes the URL-safe alphabet too
  } catch (err) {
    throw new CardError('BAD_BASE64', `${capitalize(where)} decodes to bytes that are not UTF-8 text`, { cause: err });
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
