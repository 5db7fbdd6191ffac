import type { CharacterBook, LorebookEntry } from './types.js';
import { isRecord, listOf, optionalBoolean, optionalNumber, optionalString, record, text } from './values.js';
import { CardError } from './errors.js';

/**
 * Normalizes a character book to the V3 Lorebook shape: required keys get their defaults
 * (V2 entries gain `use_regex: false`), typed optional keys are checked, and every key we do
 * not know is kept as written so another app's lorebook data survives a round trip.
 */
export function parseCharacterBook(value: unknown, field: string): CharacterBook {
  if (!isRecord(value)) throw new CardError('BAD_FIELD', `${field} must be an object`, { field });
  const book: CharacterBook = {
    ...value,
    extensions: record(value['extensions'], `${field}.extensions`),
    entries: value['entries'] == null ? [] : listOf(value['entries'], `${field}.entries`, parseEntry),
  };
  setOptional(book, 'name', optionalString(value['name'], `${field}.name`));
  setOptional(book, 'description', optionalString(value['description'], `${field}.description`));
  setOptional(book, 'scan_depth', optionalNumber(value['scan_depth'], `${field}.scan_depth`));
  setOptional(book, 'token_budget', optionalNumber(value['token_budget'], `${field}.token_budget`));
  setOptional(book, 'recursive_scanning', optionalBoolean(value['recursive_scanning'], `${field}.recursive_scanning`));
  return book;
}

function parseEntry(value: unknown, field: string): LorebookEntry {
  if (!isRecord(value)) throw new CardError('BAD_FIELD', `${field} must be an object`, { field });
  const keys = value['keys'];
  const entry: LorebookEntry = {
    ...value,
    keys: typeof keys === 'string' ? [keys] : keys == null ? [] : listOf(keys, `${field}.keys`, text),
    content: text(value['content'], `${field}.content`),
    extensions: record(value['extensions'], `${field}.extensions`),
    enabled: optionalBoolean(value['enabled'], `${field}.enabled`) ?? true,
    insertion_order: optionalNumber(value['insertion_order'], `${field}.insertion_order`) ?? 0,
    use_regex: optionalBoolean(value['use_regex'], `${field}.use_regex`) ?? false,
  };
  setOptional(entry, 'case_sensitive', optionalBoolean(value['case_sensitive'], `${field}.case_sensitive`));
  setOptional(entry, 'constant', optionalBoolean(value['constant'], `${field}.constant`));
  setOptional(entry, 'name', optionalString(value['name'], `${field}.name`));
  setOptional(entry, 'priority', optionalNumber(value['priority'], `${field}.priority`));
  setOptional(entry, 'comment', optionalString(value['comment'], `${field}.comment`));
  setOptional(entry, 'selective', optionalBoolean(value['selective'], `${field}.selective`));
  const secondary = value['secondary_keys'];
  setOptional(entry, 'secondary_keys', secondary == null ? undefined : listOf(secondary, `${field}.secondary_keys`, text));
  const id = value['id'];
  setOptional(entry, 'id', typeof id === 'string' ? id : optionalNumber(id, `${field}.id`));
  setOptional(entry, 'position', optionalString(value['position'], `${field}.position`));
  return entry;
}

/** Absent and null both mean "not set": drop the key instead of storing undefined. */
function setOptional<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value === undefined) delete target[key];
  else target[key] = value;
}
