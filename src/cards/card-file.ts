import { parseCardText, toCardV2Json, toCardV3Json } from './card-json.js';
import { readCardPng } from './card-png.js';
import { isZip, readCharx } from './charx.js';
import { CardError } from './errors.js';
import { sniffImage } from './image.js';
import { isPng } from './png.js';
import type { Card, CardFormat, CardImage } from './types.js';

export interface ReadCard {
  card: Card;
  format: CardFormat;
  /** The picture that came with the card: the PNG itself (without the card chunks) or the CHARX main icon. */
  avatar?: CardImage;
  /** CHARX only: the zip's other files by path (see {@link readCharx}). */
  files?: Record<string, Buffer>;
}

export interface ReadCardOptions {
  /**
   * The most a compressed card may unpack to: a CHARX's files together, a PNG's compressed card
   * chunk. Without it, the generous defaults for files an operator brings (256 MB, 64 MB).
   */
  maxUnpackedBytes?: number;
}

/**
 * Reads an uploaded character card of any supported kind. The bytes decide the format (PNG
 * signature, zip header, JSON text); the content type only sharpens the error for bytes that
 * match nothing, e.g. a "PNG" upload that is not one gets NOT_PNG instead of NOT_A_CARD_FILE.
 */
export function readCardFile(bytes: Buffer, contentType?: string, opts: ReadCardOptions = {}): ReadCard {
  if (isPng(bytes)) {
    const { card, avatar } = readCardPng(bytes, opts.maxUnpackedBytes);
    return { card, format: 'png', avatar: { bytes: avatar, mime: 'image/png' } };
  }
  if (isZip(bytes)) return fromCharx(bytes, opts);
  if (looksLikeJson(bytes)) return { card: parseCardText(decodeUtf8(bytes)), format: 'json' };

  const hinted = hintedFormat(contentType);
  if (hinted === 'png') throw new CardError('NOT_PNG', 'The upload is labelled PNG but lacks the 8-byte PNG signature');
  if (hinted === 'json') return { card: parseCardText(decodeUtf8(bytes)), format: 'json' }; // throws BAD_JSON
  if (hinted === 'charx' || (sniffImage(bytes) && bytes.includes(ZIP_LOCAL_HEADER))) return fromCharx(bytes, opts);
  const image = sniffImage(bytes);
  throw new CardError(
    'NOT_A_CARD_FILE',
    image
      ? `A ${image.mime} image carries no card we can read: upload a PNG card, a JSON card or a CHARX file`
      : 'Not a character card file: expected a PNG card, a JSON card or a CHARX (zip) file',
  );
}

/** The card as V3 JSON text (or V2 for readers that only know V2), pretty-printed for people. */
export function writeCardJson(card: Card, spec: 'v3' | 'v2' = 'v3'): string {
  return JSON.stringify(spec === 'v3' ? toCardV3Json(card) : toCardV2Json(card), null, 2) + '\n';
}

const ZIP_LOCAL_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

function fromCharx(bytes: Buffer, opts: ReadCardOptions): ReadCard {
  const { card, icon, files } = readCharx(bytes, opts.maxUnpackedBytes);
  return icon ? { card, format: 'charx', avatar: icon, files } : { card, format: 'charx', files };
}

function looksLikeJson(bytes: Buffer): boolean {
  let at = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0; // UTF-8 BOM
  while (at < bytes.length && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[at] ?? 0)) at++;
  return bytes[at] === 0x7b; // "{"
}

function hintedFormat(contentType: string | undefined): CardFormat | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'image/png' || type === 'image/apng') return 'png';
  if (type === 'application/json' || type === 'text/json' || type.endsWith('+json')) return 'json';
  if (type.includes('zip') || type.includes('charx')) return 'charx';
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch (err) {
    throw new CardError('BAD_JSON', 'The card JSON is not UTF-8 text', { cause: err });
  }
}
