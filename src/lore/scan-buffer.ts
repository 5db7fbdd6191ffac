import { Haystack } from './keys.js';

/** One chat message as the scan sees it. `name` is prefixed as "name: text" when names are on. */
export type LoreMessage = string | { text: string; name?: string | undefined };

/**
 * SillyTavern starts every scanned message with \x01 so a regex key can anchor on message starts
 * (its docs: `/\x01{{user}}:[^\x01]*?hello/`).
 */
const MARK = '\x01';
const JOIN = `\n${MARK}`;

/**
 * What one scan pass reads: the newest `depth` messages (newest first, as SillyTavern's buffer
 * is), then the extra scan text, then the recursion buffer. Haystacks are memoized per depth so
 * a pass builds each distinct buffer once.
 */
export class ScanBuffer {
  readonly #newestFirst: string[];
  readonly #extra: string[];
  #recursion: string[] = [];
  #memo = new Map<string, Haystack>();

  constructor(messages: readonly LoreMessage[], extra: readonly string[], includeNames: boolean) {
    this.#newestFirst = messages
      .map((m) => (typeof m === 'string' ? m : includeNames && m.name ? `${m.name}: ${m.text}` : m.text).trim())
      .reverse();
    this.#extra = extra.filter((t) => t.trim() !== '');
  }

  get recursionParts(): number {
    return this.#recursion.length;
  }

  /** Only the recursion text added from part `from` on: what a later pass has not yet seen. */
  recursionSince(from: number): Haystack {
    const id = `r${from}`;
    let hay = this.#memo.get(id);
    if (!hay) {
      const parts = this.#recursion.slice(from);
      hay = new Haystack(parts.length ? MARK + parts.join(JOIN) : '');
      this.#memo.set(id, hay);
    }
    return hay;
  }

  addRecursion(texts: readonly string[]): void {
    this.#recursion.push(...texts);
    this.#memo.clear();
  }

  /**
   * Scan depth 0 reads only the extra text and the recursion buffer (SillyTavern's docs:
   * "only recursed entries and Author's Note are evaluated").
   */
  get(depth: number, withRecursion: boolean): Haystack {
    const id = `${depth}|${withRecursion}`;
    let hay = this.#memo.get(id);
    if (!hay) {
      const parts = [...this.#newestFirst.slice(0, depth), ...this.#extra, ...(withRecursion ? this.#recursion : [])];
      hay = new Haystack(parts.length ? MARK + parts.join(JOIN) : '');
      this.#memo.set(id, hay);
    }
    return hay;
  }
}
