import { CardError } from './errors.js';
import type { Card, CardAsset, CardV2Json, CardV3Json } from './types.js';
import { parseCharacterBook } from './lorebook.js';
import { describe, isRecord, listOf, optionalNumber, optionalString, record, text } from './values.js';

const TEXT_FIELDS = [
  'name', 'description', 'personality', 'scenario', 'first_mes', 'mes_example', 'creator_notes',
  'system_prompt', 'post_history_instructions', 'creator', 'character_version',
] as const;
const KNOWN_FIELDS = new Set<string>([
  ...TEXT_FIELDS, 'alternate_greetings', 'group_only_greetings', 'tags', 'extensions', 'nickname',
  'character_book', 'assets', 'creator_notes_multilingual', 'source', 'creation_date', 'modification_date',
]);

/**
 * Lifts any card JSON (V1 flat, `chara_card_v2`, `chara_card_v3`) into one {@link Card}, losing
 * nothing: unknown keys of the data object are kept on the card. Root-level copies of V1 fields
 * beside a V2/V3 `data` (SillyTavern writes them) are ignored because `data` is authoritative.
 */
export function parseCard(json: unknown): Card {
  if (!isRecord(json)) throw new CardError('BAD_JSON', `A card must be a JSON object, not ${describe(json)}`);
  const spec = json['spec'];
  if (spec === undefined || spec === null) return fromV1(json);
  if (spec !== 'chara_card_v2' && spec !== 'chara_card_v3') {
    throw new CardError(
      'UNKNOWN_SPEC',
      `Unknown card spec ${JSON.stringify(spec)}: expected "chara_card_v2", "chara_card_v3" or a V1 card without "spec"`,
      { field: 'spec' },
    );
  }
  const data = json['data'];
  if (!isRecord(data)) {
    throw new CardError('BAD_FIELD', `A ${spec} card must have a "data" object, not ${describe(data)}`, { field: 'data' });
  }
  return fromData(data, 'data.');
}

/** Parses card JSON text; a syntax error becomes a BAD_JSON CardError naming `where` and the parser's complaint. */
export function parseCardText(jsonText: string, where = 'the card JSON'): Card {
  let json: unknown;
  try {
    json = JSON.parse(jsonText.replace(/^\uFEFF/, ''));
  } catch (err) {
    const place = where.charAt(0).toUpperCase() + where.slice(1);
    throw new CardError('BAD_JSON', `${place} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseCard(json);
}

/** Builds a complete card from a few fields, defaulting the rest the way an import would. */
export function newCard(fields: Partial<Card> & { name: string }): Card {
  return fromData({ ...fields }, '');
}

/** The V3 document (`ccv3` chunk, CHARX `card.json`, JSON export). */
export function toCardV3Json(card: Card): CardV3Json {
  return { spec: 'chara_card_v3', spec_version: '3.0', data: cardData(card) };
}

/**
 * The V2 document for the PNG `chara` chunk and V2-only readers. Like SillyTavern, the data
 * also carries the V3 fields, so a V2 reader that keeps unknown keys loses nothing either.
 */
export function toCardV2Json(card: Card): CardV2Json {
  return { spec: 'chara_card_v2', spec_version: '2.0', data: cardData(card) };
}

/** A plain copy in canonical key order, without absent optional fields. */
function cardData(card: Card): Card {
  const extras = Object.fromEntries(Object.entries(card).filter(([key]) => !KNOWN_FIELDS.has(key)));
  const optional = {
    nickname: card.nickname,
    character_book: card.character_book,
    assets: card.assets,
    creator_notes_multilingual: card.creator_notes_multilingual,
    source: card.source,
    creation_date: card.creation_date,
    modification_date: card.modification_date,
  };
  return {
    name: card.name,
    description: card.description,
    personality: card.personality,
    scenario: card.scenario,
    first_mes: card.first_mes,
    mes_example: card.mes_example,
    creator_notes: card.creator_notes,
    system_prompt: card.system_prompt,
    post_history_instructions: card.post_history_instructions,
    alternate_greetings: card.alternate_greetings,
    group_only_greetings: card.group_only_greetings,
    tags: card.tags,
    creator: card.creator,
    character_version: card.character_version,
    extensions: card.extensions,
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
    ...extras,
  };
}

/**
 * V1 cards are flat. SillyTavern's own V1 extras are moved where its V2 writer puts them
 * (`creatorcomment` → creator_notes, talkativeness/fav/depth prompt → extensions); any other
 * root key is kept like an unknown data key.
 */
function fromV1(root: Record<string, unknown>): Card {
  const { creatorcomment, talkativeness, fav, depth_prompt_prompt, depth_prompt_depth, depth_prompt_role, ...rest } = root;
  const extensions = { ...record(rest['extensions'], 'extensions') };
  if (talkativeness !== undefined) extensions['talkativeness'] = talkativeness;
  if (fav !== undefined) extensions['fav'] = fav;
  if (depth_prompt_prompt !== undefined || depth_prompt_depth !== undefined || depth_prompt_role !== undefined) {
    extensions['depth_prompt'] = { prompt: depth_prompt_prompt, depth: depth_prompt_depth, role: depth_prompt_role };
  }
  const creatorNotes = rest['creator_notes'] ?? creatorcomment;
  const data = { ...rest, extensions, ...(creatorNotes === undefined ? {} : { creator_notes: creatorNotes }) };
  return fromData(data, '');
}

function fromData(data: Record<string, unknown>, at: string): Card {
  const card = {} as Card;
  for (const field of TEXT_FIELDS) card[field] = text(data[field], at + field);
  if (card.name.trim() === '') throw new CardError('MISSING_NAME', `The card has no name (${at}name is empty or missing)`, { field: `${at}name` });
  card.alternate_greetings = greetings(data['alternate_greetings'], `${at}alternate_greetings`);
  card.group_only_greetings = greetings(data['group_only_greetings'], `${at}group_only_greetings`);
  card.tags = tags(data['tags'], `${at}tags`);
  card.extensions = record(data['extensions'], `${at}extensions`);

  const nickname = optionalString(data['nickname'], `${at}nickname`);
  if (nickname !== undefined) card.nickname = nickname;
  if (data['character_book'] != null) card.character_book = parseCharacterBook(data['character_book'], `${at}character_book`);
  if (data['assets'] != null) card.assets = listOf(data['assets'], `${at}assets`, asset);
  const notes = data['creator_notes_multilingual'];
  if (notes != null) card.creator_notes_multilingual = multilingual(notes, `${at}creator_notes_multilingual`);
  if (data['source'] != null) card.source = listOf(data['source'], `${at}source`, (v, f) => text(v, f));
  const created = optionalNumber(data['creation_date'], `${at}creation_date`);
  if (created !== undefined) card.creation_date = created;
  const modified = optionalNumber(data['modification_date'], `${at}modification_date`);
  if (modified !== undefined) card.modification_date = modified;

  for (const [key, value] of Object.entries(data)) {
    if (!KNOWN_FIELDS.has(key)) (card as unknown as Record<string, unknown>)[key] = value;
  }
  return card;
}

/** SillyTavern accepts a single greeting string where a list belongs; so do we. */
function greetings(value: unknown, field: string): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  return value == null ? [] : listOf(value, field, (v, f) => text(v, f));
}

/** Tags may arrive as one comma-separated string (older SillyTavern exports). */
function tags(value: unknown, field: string): string[] {
  if (typeof value === 'string') return value.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '');
  return value == null ? [] : listOf(value, field, (v, f) => text(v, f));
}

function asset(value: unknown, field: string): CardAsset {
  if (!isRecord(value)) throw new CardError('BAD_FIELD', `${field} must be an object, not ${describe(value)}`, { field });
  return {
    ...value,
    type: text(value['type'], `${field}.type`),
    uri: text(value['uri'], `${field}.uri`),
    name: text(value['name'], `${field}.name`),
    ext: text(value['ext'], `${field}.ext`),
  };
}

function multilingual(value: unknown, field: string): Record<string, string> {
  if (!isRecord(value)) throw new CardError('BAD_FIELD', `${field} must be an object of language → text, not ${describe(value)}`, { field });
  return Object.fromEntries(Object.entries(value).map(([lang, note]) => [lang, text(note, `${field}.${lang}`)]));
}
