import vm from 'node:vm';
import { activate, prepareBooks, type ActivateInput, type LoreActivation } from './activate.js';
import type { LoreBook } from './model.js';
import type { PatternWatch, RunningPattern } from './keys.js';

const MAX_REFUSED = 10_000;

/** A pattern a scan refused, and which of the scan's books holds it. */
export interface RefusedPattern {
  pattern: string;
  book: number;
}

/**
 * What a watched scan gave: the entries that fire (none when the scan was stopped: no lore this
 * turn), and the patterns this scan found stalling and refused, whether or not it then finished.
 */
export interface WatchedScan {
  activation: LoreActivation | undefined;
  refused: RefusedPattern[];
}

/**
 * A lorebook scan with a time limit. Regular expression keys are authors' code run on users'
 * messages, and while one runs nothing else in the process does: every chat waits. safe-regex2
 * refuses the patterns it can prove may backtrack exponentially (nested quantifiers), but not all:
 * `/(\w|\d)+$/` passes it and takes half a minute on thirty digits, days on forty. So a scan runs
 * under node:vm's timeout, which V8 enforces inside a regular expression too.
 *
 * A scan stopped while a pattern ran is pinned on that pattern if it alone, on the same text,
 * runs past a quarter of the limit too (a pattern that merely happened to be running answers in
 * microseconds): it is refused from then on, reported like one safe-regex2 refused, and the scan
 * runs again without it. A scan stopped for any other reason (a book too big to scan in time)
 * gives no lore that turn. A thousand-entry book scans in about 1.2 ms (`npm run bench -- lore`);
 * its keys are compiled before the limit starts (`prepareBooks`), once per book version.
 *
 * Only what is safe to stop anywhere runs under the limit (a stopped script runs no more code,
 * not even `finally`): `activate` keeps its state in locals, and its `countTokens` must too.
 */
export class ScanWatchdog implements PatternWatch {
  running: RunningPattern | undefined;
  readonly refused = new Set<string>();
  refusals = 0;
  readonly #context = vm.createContext({ scan: undefined as (() => unknown) | undefined });
  readonly #script = new vm.Script('scan()');

  /** `budgetMs`: the longest one scan may hold the process. */
  constructor(readonly budgetMs: number) {}

  activate(books: readonly LoreBook[], input: Omit<ActivateInput, 'watch'>): WatchedScan {
    const refused: RefusedPattern[] = [];
    // One retry after a refusal: a turn whose book holds more stalling patterns gives up on lore,
    // so each turn holds the process for at most two scans and two retrials.
    for (let tries = 0; tries < 2; tries++) {
      // Compiled outside the limit (again after a refusal, which compiles the refused key anew).
      prepareBooks(books, input.settings, this);
      const scan = this.within(this.budgetMs, () => activate(books, { ...input, watch: this }));
      if (scan.done) return { activation: scan.value, refused };
      const suspect = this.running;
      if (!suspect || this.within(Math.max(1, Math.floor(this.budgetMs / 4)), () => suspect.re.test(suspect.text)).done) break;
      // Oldest first out past a bound, so a tenant writing new patterns cannot grow this without
      // end; a pattern forgotten so is caught again at the cost of one more stopped scan.
      if (this.refused.size >= MAX_REFUSED) this.refused.delete(this.refused.values().next().value!);
      this.refused.add(suspect.id);
      this.refusals++;
      refused.push({ pattern: `/${suspect.re.source}/${suspect.re.flags}`, book: suspect.book });
    }
    return { activation: undefined, refused };
  }

  private within<T>(budgetMs: number, fn: () => T): { done: true; value: T } | { done: false } {
    this.running = undefined;
    this.#context.scan = fn;
    try {
      return { done: true, value: this.#script.runInContext(this.#context, { timeout: budgetMs }) as T };
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return { done: false };
      throw err;
    } finally {
      this.#context.scan = undefined;
    }
  }
}
