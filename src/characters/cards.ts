import type { Character } from '../core/types.js';
import {
  cardFromCharacter,
  characterFromCard,
  checkCardFields,
  embeddedPath,
  placeholderAvatar,
  readCardFile,
  sniffImage,
  writeCardCharx,
  writeCardJson,
  writeCardPng,
  type Card,
  readKeptCard,
  type CardCharacterFields,
  type CardFormat,
  type KeptCard,
} from '../cards/index.js';
import type { Store } from '../store/index.js';
import { checkPlatformName } from './names.js';


export interface ImportOptions {
  /** Owner of the new character: an API key id, or 'admin'. */
  ownerId: string;
  /** Offer it to platform users (an admin's choice). */
  platformVisible?: boolean;
  /** Refuse a name that passes for another platform character's (imports platform users will see). */
  checkName?: boolean;
  /** The importer's own checks of the fields (a tenant's model allowlist); throws to refuse. */
  checkFields?: (fields: CardCharacterFields) => Promise<void>;
  /** The owner's character quota (a tenant key's), counted as the character is stored. */
  maxOwned?: number;
  /** The most a compressed card may unpack to (see `ReadCardOptions`): a tenant's MAX_CARD_BYTES. */
  maxUnpackedBytes?: number;
}

/**
 * Adds a character from a card file (PNG, JSON or CHARX; the bytes decide). The card is kept
 * whole for export, its picture becomes the avatar. A broken file is a CardError (400) naming
 * what is wrong; a card that leaves fields empty is never refused for it.
 */
export async function importCard(store: Store, bytes: Buffer, contentType: string | undefined, opts: ImportOptions): Promise<Character> {
  const read = readCardFile(bytes, contentType, opts.maxUnpackedBytes !== undefined ? { maxUnpackedBytes: opts.maxUnpackedBytes } : {});
  const fields = characterFromCard(read.card);
  checkCardFields(fields);
  if (opts.checkName) await checkPlatformName(store, fields.name);
  await opts.checkFields?.(fields);
  const created = await store.characters.create(
    { ...fields, isPublic: false, platformVisible: opts.platformVisible ?? false },
    opts.ownerId,
    opts.maxOwned !== undefined ? { maxOwned: opts.maxOwned } : {},
  );
  const kept: KeptCard = { card: read.card };
  if (read.files && Object.keys(read.files).length) {
    kept.files = Object.fromEntries(Object.entries(read.files).map(([path, data]) => [path, Buffer.from(data).toString('base64')]));
  }
  await store.characters.saveCard(created.id, { json: JSON.stringify(kept) }, read.avatar ?? null);
  return (await store.characters.get(created.id)) ?? created;
}

/** A card file for download. */
export interface ExportedCard {
  bytes: Buffer;
  mime: string;
  fileName: string;
}

const MIME: Record<CardFormat, string> = { png: 'image/png', json: 'application/json', charx: 'application/zip' };

/**
 * The character as a V3 card: the imported card with the current fields written over it. PNG
 * carries both a `ccv3` and a V2 `chara` chunk (as SillyTavern writes them) in the avatar, or in
 * a generated placeholder when the avatar is not a PNG or there is none.
 */
export async function exportCard(store: Store, c: Character, format: CardFormat): Promise<ExportedCard> {
  const kept = await keptCard(store, c.id);
  const card = cardFromCharacter(c, kept?.card);
  const avatar = await store.characters.avatarOf(c.id);
  const fileName = `${c.slug}.${format}`;
  if (format === 'json') return { bytes: Buffer.from(writeCardJson(card), 'utf8'), mime: MIME.json, fileName };
  if (format === 'png') {
    const png = avatar && sniffImage(avatar.bytes)?.mime === 'image/png' ? avatar.bytes : undefined;
    return { bytes: writeCardPng(card, png), mime: MIME.png, fileName };
  }
  const files = Object.fromEntries(Object.entries(kept?.files ?? {}).map(([path, b64]) => [path, Buffer.from(b64, 'base64')]));
  // A JSON or PNG card may name files inside a CHARX it never came with: those assets cannot
  // travel (the icon is written from the avatar, or a placeholder).
  const assets = card.assets?.filter((a) => a.type === 'icon' || embeddedPath(a.uri) === undefined || embeddedPath(a.uri)! in files);
  const out = assets ? { ...card, assets } : card;
  const picture = avatar?.bytes ?? placeholderAvatar(c.name);
  return { bytes: writeCardCharx(out, { files, avatar: picture }), mime: MIME.charx, fileName };
}

/** The character's picture: the one its card came with, else a placeholder coloured by its name. */
export async function avatarOf(store: Store, c: Character): Promise<{ bytes: Buffer; mime: string }> {
  return (await store.characters.avatarOf(c.id)) ?? { bytes: placeholderAvatar(c.name), mime: 'image/png' };
}

/** The card a character was imported from, when it was. */
export async function storedCardOf(store: Store, id: string): Promise<Card | undefined> {
  return (await keptCard(store, id))?.card;
}

async function keptCard(store: Store, id: string): Promise<KeptCard | undefined> {
  const stored = await store.characters.cardOf(id);
  return stored ? readKeptCard(stored.json) : undefined;
}
