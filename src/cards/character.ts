import { isDeepStrictEqual } from 'node:util';
import type { Character, Gender } from '../core/types.js';
import { newCard } from './card-json.js';
import { CardError } from './errors.js';
import type { Card } from './types.js';

/** The character fields a card carries, directly or in `extensions.charbridge`. */
export type CardCharacterFields = Pick<
  Character,
  | 'name' | 'personality' | 'speakingStyle' | 'description' | 'gender' | 'age' | 'occupation' | 'appearanceDescription'
  | 'avatar' | 'profilePhotoUrl' | 'canInitiateConversation' | 'scenario' | 'greeting' | 'exampleDialogue' | 'systemPrompt'
  | 'postHistoryInstructions' | 'tags' | 'model' | 'nickname' | 'alternateGreetings' | 'groupGreetings' | 'memoryInstructions'
>;

/**
 * The most an imported card may put in one text field, and in all of them together. Cards carry
 * far more than the create endpoint allows (a few thousand words of description is common), so
 * these are generous; they exist because every turn sends, counts and caches these texts, and the
 * character list shows the description: a card file of 8 MB of description would cost seconds a
 * turn and hundreds of megabytes of cache.
 */
export const CARD_FIELD_MAX = 32_000;
export const CARD_TEXT_MAX = 128_000;
/** The most entries a card's list fields (greetings, tags) may have. */
export const CARD_LIST_MAX = 100;

/** Where our fields that a card has no place for travel, so a card exported here imports back whole. */
export const CHARBRIDGE_EXTENSION = 'charbridge';

const nullIfEmpty = (text: string | undefined): string | null => (text ? text : null);

/** Card field ↔ character field, for the fields both have. */
const DIRECT: ReadonlyArray<{
  field: keyof CardCharacterFields;
  read: (card: Card) => unknown;
  write: (card: Card, value: never) => void;
}> = [
  { field: 'name', read: (c) => c.name, write: (c, v: string) => void (c.name = v) },
  { field: 'description', read: (c) => nullIfEmpty(c.description), write: (c, v: string | null) => void (c.description = v ?? '') },
  { field: 'personality', read: (c) => c.personality, write: (c, v: string) => void (c.personality = v) },
  { field: 'scenario', read: (c) => nullIfEmpty(c.scenario), write: (c, v: string | null) => void (c.scenario = v ?? '') },
  { field: 'greeting', read: (c) => nullIfEmpty(c.first_mes), write: (c, v: string | null) => void (c.first_mes = v ?? '') },
  { field: 'exampleDialogue', read: (c) => nullIfEmpty(c.mes_example), write: (c, v: string | null) => void (c.mes_example = v ?? '') },
  { field: 'systemPrompt', read: (c) => nullIfEmpty(c.system_prompt), write: (c, v: string | null) => void (c.system_prompt = v ?? '') },
  {
    field: 'postHistoryInstructions',
    read: (c) => nullIfEmpty(c.post_history_instructions),
    write: (c, v: string | null) => void (c.post_history_instructions = v ?? ''),
  },
  { field: 'tags', read: (c) => [...c.tags], write: (c, v: string[]) => void (c.tags = [...v]) },
  { field: 'alternateGreetings', read: (c) => [...c.alternate_greetings], write: (c, v: string[]) => void (c.alternate_greetings = [...v]) },
  { field: 'groupGreetings', read: (c) => [...c.group_only_greetings], write: (c, v: string[]) => void (c.group_only_greetings = [...v]) },
  {
    field: 'nickname',
    read: (c) => nullIfEmpty(c.nickname),
    write: (c, v: string | null) => {
      if (v === null) delete c.nickname;
      else c.nickname = v;
    },
  },
];

const PICTURE_URL = /^(https?:\/\/|data:image\/)/;

/** Our fields without a card field, with the value that means "not set" (never written). */
const EXTENSION_FIELDS = {
  speakingStyle: { unset: '', valid: (v: unknown) => typeof v === 'string' },
  gender: { unset: null, valid: (v: unknown) => typeof v === 'string' && ['male', 'female', 'non-binary', 'other'].includes(v) },
  age: { unset: null, valid: (v: unknown) => typeof v === 'number' && Number.isInteger(v) },
  occupation: { unset: null, valid: (v: unknown) => typeof v === 'string' },
  appearanceDescription: { unset: null, valid: (v: unknown) => typeof v === 'string' },
  // The create endpoint's rule: a picture is an http(s) or data:image URL, nothing a browser would run.
  avatar: { unset: null, valid: (v: unknown) => typeof v === 'string' && PICTURE_URL.test(v) },
  profilePhotoUrl: { unset: null, valid: (v: unknown) => typeof v === 'string' && PICTURE_URL.test(v) },
  canInitiateConversation: { unset: false, valid: (v: unknown) => typeof v === 'boolean' },
  model: { unset: null, valid: (v: unknown) => typeof v === 'string' },
  memoryInstructions: { unset: null, valid: (v: unknown) => typeof v === 'string' },
} as const satisfies Partial<Record<keyof CardCharacterFields, { unset: unknown; valid: (v: unknown) => boolean }>>;
type ExtensionField = keyof typeof EXTENSION_FIELDS;
const EXTENSION_KEYS = Object.keys(EXTENSION_FIELDS) as ExtensionField[];

function ourExtension(card: Card): Record<string, unknown> {
  const ext = card.extensions[CHARBRIDGE_EXTENSION];
  return typeof ext === 'object' && ext !== null && !Array.isArray(ext) ? (ext as Record<string, unknown>) : {};
}

/**
 * A card as character fields. Empty card text is "not set" (null); our own fields come from
 * `extensions.charbridge` when a card exported here carries them. No bounds of the create
 * endpoint apply: a valid card is never refused for a short personality.
 */
export function characterFromCard(card: Card): CardCharacterFields {
  const out: Record<string, unknown> = {};
  for (const { field, read } of DIRECT) out[field] = read(card);
  const ext = ourExtension(card);
  for (const key of EXTENSION_KEYS) {
    const spec = EXTENSION_FIELDS[key];
    out[key] = key in ext && spec.valid(ext[key]) ? ext[key] : spec.unset;
  }
  return out as unknown as CardCharacterFields & { gender: Gender | null };
}

/** Refuses (400 BAD_FIELD, naming the field) a card whose fields are past the import bounds above. */
export function checkCardFields(fields: CardCharacterFields): void {
  let total = 0;
  for (const [field, value] of Object.entries(fields) as Array<[string, unknown]>) {
    const texts = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
    if (Array.isArray(value) && value.length > CARD_LIST_MAX) {
      throw new CardError('BAD_FIELD', `The card's ${field} has ${value.length} entries; at most ${CARD_LIST_MAX} can be imported`, { field });
    }
    for (const text of texts) {
      if (text.length > CARD_FIELD_MAX) {
        throw new CardError('BAD_FIELD', `The card's ${field} is ${text.length} characters long; at most ${CARD_FIELD_MAX} can be imported`, { field });
      }
      total += text.length;
    }
  }
  if (total > CARD_TEXT_MAX) throw new CardError('BAD_FIELD', `The card's texts are ${total} characters together; at most ${CARD_TEXT_MAX} can be imported`);
}

/**
 * The card for a character: the card it was imported from (kept verbatim: creator notes, the
 * lorebook, other apps' extensions) with every field the character changed since written over
 * it; a field still as imported keeps the card's exact value, so export(import(card)) is the card.
 * A character that never was a card gets a fresh one.
 */
export function cardFromCharacter(c: CardCharacterFields, stored?: Card): Card {
  const card: Card = structuredClone(stored ?? newCard({ name: c.name }));
  const was = stored ? characterFromCard(stored) : undefined;
  for (const { field, write } of DIRECT) {
    if (was && isDeepStrictEqual(was[field], c[field])) continue;
    write(card, c[field] as never);
  }
  const ext = { ...ourExtension(card) };
  let changed = false;
  for (const key of EXTENSION_KEYS) {
    const value = c[key];
    if (was ? isDeepStrictEqual(was[key], value) : value === EXTENSION_FIELDS[key].unset) continue;
    changed = true;
    if (value === EXTENSION_FIELDS[key].unset) delete ext[key];
    else ext[key] = value;
  }
  if (changed) {
    const extensions: Record<string, unknown> = { ...card.extensions };
    if (Object.keys(ext).length) extensions[CHARBRIDGE_EXTENSION] = ext;
    else delete extensions[CHARBRIDGE_EXTENSION];
    card.extensions = extensions;
  }
  return card;
}

/** What the store keeps of an imported card: the card, and a CHARX's other files (base64 by path). */
export interface KeptCard {
  card: Card;
  files?: Record<string, string>;
}

/** The kept card from its stored JSON text. */
export function readKeptCard(json: string): KeptCard {
  return JSON.parse(json) as KeptCard;
}
