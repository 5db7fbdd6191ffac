import { strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import { parseCardText, toCardV3Json } from './card-json.js';
import { CardError } from './errors.js';
import { sniffImage } from './image.js';
import type { Card, CardAsset, CardImage } from './types.js';

/** What a CHARX holds besides `card.json`: its files by zip path, and the main icon if it has one. */
export interface CharxContents {
  card: Card;
  icon?: CardImage;
  /** Every other file in the zip (assets, app data) so a re-export can carry them on; paths are as stored, untrusted. */
  files: Record<string, Buffer>;
}

export interface WriteCardCharxOptions {
  /** The character's picture; becomes the main icon asset. */
  avatar?: Buffer;
  /** Further files by zip path (e.g. `files` from {@link readCharx}); every `embeded://` asset must be among them. */
  files?: Readonly<Record<string, Uint8Array>>;
  /** Timestamp of the zip entries; pass a fixed one for byte-identical output. */
  mtime?: Date;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** Zips unpacking (by their own account) to more than this are refused instead of filling memory. */
export const MAX_CHARX_UNPACKED_BYTES = 256 * 1024 * 1024;
// RisuAI writes the misspelt `embeded://` (the V3 spec's own spelling); `__asset:` comes from PNG-embedded assets.
const EMBEDDED_PREFIXES = ['embeded://', 'embedded://', '__asset:'];
const ICON_DIR = 'assets/icon/images/';

export function isZip(bytes: Uint8Array): boolean {
  return ZIP_MAGIC.every((byte, i) => bytes[i] === byte);
}

/**
 * Reads a CHARX: `card.json` at the zip root plus the files its assets point at. A zip glued
 * behind another file (RisuAI's JPEG+CHARX, self-extracting archives) is read from its first
 * local header, as SillyTavern does.
 */
export function readCharx(bytes: Buffer, maxUnpackedBytes = MAX_CHARX_UNPACKED_BYTES): CharxContents {
  const start = isZip(bytes) ? 0 : bytes.indexOf(Buffer.from(ZIP_MAGIC));
  if (start < 0) throw new CardError('BAD_ZIP', 'Not a zip (CHARX) file: no zip entry header found');
  let unpacked = 0;
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes.subarray(start), {
      filter: (file) => {
        unpacked += file.originalSize;
        if (unpacked > maxUnpackedBytes) {
          throw new CardError('TOO_LARGE', `The CHARX unpacks to more than ${maxUnpackedBytes} bytes`);
        }
        return !file.name.endsWith('/');
      },
    });
  } catch (err) {
    if (err instanceof CardError) throw err;
    throw new CardError('BAD_ZIP', `Not a readable zip (CHARX) file: ${(err as Error).message}`, { cause: err });
  }
  const cardJson = entries['card.json'];
  if (!cardJson) throw new CardError('NO_CARD_JSON', 'The CHARX zip has no card.json at its root');
  const card = parseCardText(decodeUtf8(cardJson), "the CHARX's card.json");
  const files: Record<string, Buffer> = {};
  for (const [name, data] of Object.entries(entries)) {
    if (name !== 'card.json') files[name] = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  const icon = mainIcon(card, files);
  return icon ? { card, icon, files } : { card, files };
}

/**
 * Writes a CHARX with the V3 `card.json`. An avatar is stored where the card's main icon asset
 * already points inside the zip, else at `assets/icon/images/main.<ext>` with a main icon
 * asset added. Refuses a card whose embedded assets would be missing from the zip.
 */
export function writeCardCharx(card: Card, options: WriteCardCharxOptions = {}): Buffer {
  const files: Record<string, Uint8Array> = {};
  for (const [name, data] of Object.entries(options.files ?? {})) files[checkPath(name)] = data;
  let out = card;
  if (options.avatar) {
    const image = sniffImage(options.avatar);
    if (!image) throw new CardError('BAD_FIELD', 'The avatar is not a PNG, JPEG, WebP, GIF or AVIF image', { field: 'avatar' });
    const current = iconAssets(card)[0];
    const currentPath = current && embeddedPath(current.uri);
    if (current && currentPath !== undefined && sameExt(current.ext, image.ext)) {
      files[currentPath] = options.avatar;
    } else {
      const path = `${ICON_DIR}main.${image.ext}`;
      const icon: CardAsset = { type: 'icon', uri: `embeded://${path}`, name: 'main', ext: image.ext };
      const others = (card.assets ?? []).filter((asset) => asset !== current);
      if (currentPath !== undefined && !others.some((asset) => embeddedPath(asset.uri) === currentPath)) delete files[currentPath];
      files[path] = options.avatar;
      out = { ...card, assets: [icon, ...others] };
    }
  }
  for (const asset of out.assets ?? []) {
    const path = embeddedPath(asset.uri);
    if (path !== undefined && !(path in files)) {
      throw new CardError('MISSING_ASSET', `Asset "${asset.name}" points at ${asset.uri} but no such file was given for the CHARX`, { field: 'assets' });
    }
  }
  const zippable: Zippable = { 'card.json': strToU8(JSON.stringify(toCardV3Json(out))) };
  for (const [name, data] of Object.entries(files)) zippable[name] = data;
  const zipped = zipSync(zippable, { level: 6, ...(options.mtime ? { mtime: options.mtime } : {}) });
  return Buffer.from(zipped.buffer, zipped.byteOffset, zipped.byteLength);
}

/** The zip path an asset URI names, or undefined when it lives outside the zip (URL, ccdefault:). */
export function embeddedPath(uri: string): string | undefined {
  const trimmed = uri.trim();
  const prefix = EMBEDDED_PREFIXES.find((p) => trimmed.toLowerCase().startsWith(p));
  if (prefix === undefined) return undefined;
  return trimmed.slice(prefix.length).replace(/\\/g, '/').replace(/^(\.?\/)+/, '');
}

/** Icon assets, the one named "main" first (the V3 rule), then the rest in card order. */
function iconAssets(card: Card): CardAsset[] {
  const icons = (card.assets ?? []).filter((asset) => asset.type.toLowerCase() === 'icon');
  return [...icons.filter((a) => a.name === 'main'), ...icons.filter((a) => a.name !== 'main')];
}

function mainIcon(card: Card, files: Record<string, Buffer>): CardImage | undefined {
  for (const asset of iconAssets(card)) {
    const path = embeddedPath(asset.uri);
    const bytes = path === undefined ? undefined : files[path];
    const image = bytes && sniffImage(bytes);
    if (bytes && image) return { bytes, mime: image.mime };
  }
  return undefined;
}

function sameExt(a: string, b: string): boolean {
  const norm = (ext: string) => ext.toLowerCase().replace(/^\./, '').replace(/^jpg$/, 'jpeg');
  return norm(a) === norm(b);
}

function checkPath(name: string): string {
  if (name === 'card.json' || name === '' || name.startsWith('/') || name.split(/[\\/]/).includes('..')) {
    throw new CardError('BAD_FIELD', `CHARX file path ${JSON.stringify(name)} must be relative, inside the zip, and not card.json`, { field: 'files' });
  }
  return name;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (err) {
    throw new CardError('BAD_JSON', "The CHARX's card.json is not UTF-8 text", { cause: err });
  }
}
