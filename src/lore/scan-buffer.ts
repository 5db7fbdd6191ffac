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
  /** Chat-only haystacks live for the whole turn; the others until the recursion text grows. */
  #chatMemo = new Map<number, Haystack>();
  #memo = new Map<number, Haystack>();
  #sinceMemo = new Map<number, Haystack>();

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
    let hay = this.#sinceMemo.get(from);
    if (!hay) {
      const parts = this.#recursion.slice(from);
      hay = new Haystack(parts.length ? MARK + parts.join(JOIN) : '');
      this.#sinceMemo.set(from, hay);
    }
    return hay;
  }

  addRecursion(texts: readonly string[]): void {
    this.#recursion.push(...texts);
    this.#memo.clear();
    this.#sinceMemo.clear();
  }

  /**
   * Scan depth 0 reads only the extra text and the recursion buffer (SillyTavern's docs:
   * "only recursed entries and Author's Note are evaluated").
   */
  get(depth: number, withRecursion: boolean): Haystack {
    const memo = withRecursion ? this.#memo : this.#chatMemo;
    let hay = memo.get(depth);
    if (!hay) {
      const parts = [...this.#newestFirst.slice(0, depth), ...this.#extra, ...(withRecursion ? this.#recursion : [])];
      hay = new Haystack(parts.length ? MARK + parts.join(JOIN) : '');
      memo.set(depth, hay);
    }
    return hay;
  }
}
