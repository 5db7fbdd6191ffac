import { createRequire } from 'node:module';
import { ValidationError } from '../core/errors.js';
import type { Store } from '../store/index.js';

/** Unicode's confusables table (0.8 MB of heap), loaded when a name is first checked, not at start. */
let confusables: ((text: string) => string) | undefined;
function unhomoglyph(text: string): string {
  confusables ??= createRequire(import.meta.url)('unhomoglyph') as (text: string) => string;
  return confusables(text);
}

/**
 * What a name looks like, ignoring case, accents, spacing and look-alike letters (Cyrillic "А"
 * for Latin "A", "I" for "l", "0" for "O"…): two names with one skeleton are told apart by no
 * one reading a character list. Both the original and the lower-cased name are folded, because
 * the confusables table maps capital "I" to "l" but leaves "i" alone.
 */
export function nameSkeletons(name: string): string[] {
  const base = name.normalize('NFKD').replace(/\p{M}/gu, '').replace(/[\s\p{P}\p{S}]+/gu, '');
  return [...new Set([unhomoglyph(base).toLowerCase(), unhomoglyph(base.toLowerCase()).toLowerCase()])];
}

/** Whether two different names read the same: one skeleton, yet not the same name ignoring case. */
export function looksAlike(a: string, b: string): boolean {
  if (a.trim().toLowerCase() === b.trim().toLowerCase()) return false;
  const theirs = new Set(nameSkeletons(b));
  return nameSkeletons(a).some((s) => s !== '' && theirs.has(s));
}

/**
 * Refuses a name for a character platform users will see when it passes for another visible
 * character's (an impersonation in a `/character` list); the same name (ignoring case) is
 * allowed, as slugs already tell those apart.
 */
export async function checkPlatformName(store: Store, name: string, exceptId?: string): Promise<void> {
  for (const other of await store.characters.listShared(1000)) {
    if (other.id === exceptId) continue;
    if (looksAlike(name, other.name)) {
      throw new ValidationError(`name "${name}" looks like "${other.name}", another character on the platforms: choose a name that reads differently`, { field: 'name' });
    }
  }
}
