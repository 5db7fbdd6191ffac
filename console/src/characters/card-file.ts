import type { Character } from '../types';

/** The editable fields of a character: exactly what POST /api/v1/characters accepts. */
export interface CharacterDraft {
  name: string;
  personality: string;
  speakingStyle: string;
  description?: string | null;
  gender?: string | null;
  age?: number | null;
  occupation?: string | null;
  appearanceDescription?: string | null;
  avatar?: string | null;
  profilePhotoUrl?: string | null;
  canInitiateConversation?: boolean;
  isPublic?: boolean;
  scenario?: string | null;
  greeting?: string | null;
  exampleDialogue?: string | null;
  systemPrompt?: string | null;
  postHistoryInstructions?: string | null;
  tags?: string[];
  model?: string | null;
}

const TEXT_FIELDS = [
  'name',
  'personality',
  'speakingStyle',
  'description',
  'gender',
  'occupation',
  'appearanceDescription',
  'avatar',
  'profilePhotoUrl',
  'scenario',
  'greeting',
  'exampleDialogue',
  'systemPrompt',
  'postHistoryInstructions',
  'model',
] as const;
const FLAG_FIELDS = ['canInitiateConversation', 'isPublic'] as const;

/** A character as a JSON file another charbridge (or this one) can create it from. */
export function exportCard(c: Character): CharacterDraft {
  const out: Record<string, unknown> = {};
  for (const f of TEXT_FIELDS) if (c[f] !== null && c[f] !== '') out[f] = c[f];
  for (const f of FLAG_FIELDS) out[f] = c[f];
  if (c.age !== null) out.age = c.age;
  if (c.tags.length) out.tags = c.tags;
  return out as unknown as CharacterDraft;
}

/**
 * Reads one kind of character file into form values. The create form's drop zone and file
 * picker try each importer in `cardImporters` in turn; other card formats (Character Card V2/V3
 * JSON, PNG cards with an embedded card) are added by appending an importer here.
 */
export interface CardImporter {
  /** What it reads, for the "cannot read this file" message. */
  describe: string;
  accepts(file: File): boolean;
  read(file: File): Promise<Partial<CharacterDraft>>;
}

/** The JSON that "Export JSON" writes. Unknown fields are left out; the API checks the rest on save. */
const charbridgeJson: CardImporter = {
  describe: 'charbridge character JSON',
  accepts: (file) => file.type === 'application/json' || file.name.toLowerCase().endsWith('.json'),
  async read(file) {
    let data: unknown;
    try {
      data = JSON.parse(await file.text());
    } catch {
      throw new Error(`${file.name} is not valid JSON`);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error(`${file.name} does not hold a character object`);
    const src = data as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of TEXT_FIELDS) if (typeof src[f] === 'string') out[f] = src[f];
    for (const f of FLAG_FIELDS) if (typeof src[f] === 'boolean') out[f] = src[f];
    if (typeof src.age === 'number') out.age = src.age;
    if (Array.isArray(src.tags)) out.tags = src.tags.filter((t): t is string => typeof t === 'string');
    return out as Partial<CharacterDraft>;
  },
};

export const cardImporters: CardImporter[] = [charbridgeJson];

/** Form values from a dropped or picked file, by the first importer that takes it. */
export async function importCard(file: File): Promise<Partial<CharacterDraft>> {
  const importer = cardImporters.find((i) => i.accepts(file));
  if (!importer) throw new Error(`${file.name}: this console can read ${cardImporters.map((i) => i.describe).join(', ')}`);
  return importer.read(file);
}
