import type { FiredEntry, LoreActivation, LoreDebugEntry } from './activate.js';
import { ROLE_CODES, type LoreRole } from './model.js';

export interface DepthInsert {
  /** Messages from the end of the history (0 = after the newest message). */
  depth: number;
  role: LoreRole;
  text: string;
}

/**
 * The fired lore as text blocks for the context builder to place. Each block joins its entries
 * with newlines in insertion order; a block with nothing is ''.
 */
export interface RenderedLore {
  beforeChar: string;
  afterChar: string;
  /** Deepest first (earliest in the prompt), then system, user, assistant. */
  atDepth: DepthInsert[];
  beforeExamples: string;
  afterExamples: string;
  authorsNoteTop: string;
  authorsNoteBottom: string;
  /** Outlet name → text, for builders with `{{outlet::name}}` slots. */
  outlets: Record<string, string>;
}

const join = (entries: readonly FiredEntry[]) => entries.map((f) => f.content).join('\n');

/**
 * Groups fired entries by position like SillyTavern's checkWorldInfo prompt building; entries
 * with empty content add nothing, and outlet entries without a name are skipped.
 */
export function renderLore(result: LoreActivation): RenderedLore {
  const nonEmpty = result.fired.filter((f) => f.content !== '');
  const at = (position: FiredEntry['entry']['position']) => join(nonEmpty.filter((f) => f.entry.position === position));

  const depthGroups = new Map<string, FiredEntry[]>();
  for (const f of nonEmpty) {
    if (f.entry.position !== 'at_depth') continue;
    const id = `${f.entry.depth}|${f.entry.role}`;
    depthGroups.set(id, [...(depthGroups.get(id) ?? []), f]);
  }
  const atDepth = [...depthGroups.values()]
    .map((group) => ({ depth: group[0]?.entry.depth ?? 0, role: group[0]?.entry.role ?? 'system', text: join(group) }))
    .sort((a, b) => b.depth - a.depth || ROLE_CODES.indexOf(a.role) - ROLE_CODES.indexOf(b.role));

  const outlets: Record<string, string> = {};
  for (const f of nonEmpty) {
    const name = f.entry.outletName?.trim();
    if (f.entry.position !== 'outlet' || !name) continue;
    outlets[name] = outlets[name] === undefined ? f.content : `${outlets[name]}\n${f.content}`;
  }

  return {
    beforeChar: at('before_char'),
    afterChar: at('after_char'),
    atDepth,
    beforeExamples: at('em_top'),
    afterExamples: at('em_bottom'),
    authorsNoteTop: at('an_top'),
    authorsNoteBottom: at('an_bottom'),
    outlets,
  };
}

function why(d: LoreDebugEntry): string {
  const t = d.trigger;
  const cause = t.kind === 'constant' ? 'constant' : t.kind === 'key' ? `key "${t.key}"` : `recursion, key "${t.key}"`;
  switch (d.status) {
    case 'fired':
      return cause;
    case 'dropped_budget':
      return `${cause}; dropped: token budget full`;
    case 'dropped_book_budget':
      return `${cause}; dropped: book token budget full`;
    case 'dropped_probability':
      return `${cause}; dropped: probability roll failed`;
    case 'dropped_context':
      return `${cause}; left out: the character prompt and the message leave no room for it in the context`;
  }
}

/** One readable line per matched entry, for `/status`: what fired and why, or why it was dropped. */
export function describeLore(result: LoreActivation): string[] {
  return result.debug.map((d) => {
    const book = d.bookName ? `${d.bookName} ` : `book ${d.bookIndex + 1} `;
    return `${d.status === 'fired' ? '+' : '-'} ${d.label} (${book}#${d.id}): ${why(d)}`;
  });
}
