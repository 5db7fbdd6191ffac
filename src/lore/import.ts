import { ValidationError } from '../core/errors.js';
import { importCharacterBook } from './character-book.js';
import type { LoreBook } from './model.js';
import { importWorldInfo } from './sillytavern.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads whatever lorebook JSON an author uploads: a SillyTavern world-info file, a bare card
 * `character_book`, a V3 standalone lorebook (`{spec:'lorebook_v3', data}`), or a whole V2/V3
 * card (its `data.character_book`).
 */
export function importLorebook(json: unknown, opts: { name?: string } = {}): LoreBook {
  if (!isObject(json)) throw new ValidationError('lorebook must be a JSON object', { field: 'lorebook' });
  if (json['spec'] === 'lorebook_v3') return withName(importCharacterBook(json['data']), opts.name);
  if (json['spec'] === 'chara_card_v2' || json['spec'] === 'chara_card_v3') {
    const data = json['data'];
    const book = isObject(data) ? data['character_book'] : undefined;
    if (book === undefined || book === null) {
      throw new ValidationError('character card has no data.character_book', { field: 'data.character_book' });
    }
    return withName(importCharacterBook(book), opts.name);
  }
  if (Array.isArray(json['entries'])) return withName(importCharacterBook(json), opts.name);
  if (isObject(json['entries'])) return importWorldInfo(json, opts);
  throw new ValidationError(
    'lorebook must be a SillyTavern world info file ({entries: {...}}), a character_book ({entries: [...]}) or a character card',
    { field: 'entries' },
  );
}

function withName(book: LoreBook, name: string | undefined): LoreBook {
  return name === undefined ? book : { ...book, name };
}
