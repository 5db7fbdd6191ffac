import { describe, expect, it } from 'vitest';
import { describeLore } from '../../src/lore/index.js';
import { book, fired, run } from './helpers.js';

describe('token budget', () => {
  // Contents are 3 words (tokens) each.
  const b = book([
    { keys: ['harbor'], order: 10, content: 'low order entry' },
    { keys: ['harbor'], order: 200, content: 'high order entry' },
    { constant: true, order: 1, content: 'constant world rule' },
    { keys: ['harbor'], order: 100, content: 'middle order entry' },
  ]);

  it('drops the lowest insertion order first, with constant entries first in line', () => {
    const r = run(b, ['The harbor at dawn.'], { settings: { tokenBudget: 9 } });
    expect(fired(r)).toEqual(['constant world rule', 'middle order entry', 'high order entry']);
    expect(r.tokensUsed).toBe(9);
    expect(r.budgetExhausted).toBe(true);
    expect(r.debug.map((d) => [d.label, d.status])).toEqual([
      ['#' + String(b.entries[2]?.id), 'fired'],
      ['harbor', 'fired'],
      ['harbor', 'fired'],
      ['harbor', 'dropped_budget'],
    ]);
    expect(r.debug[3]?.id).toBe(b.entries[0]?.id);
  });

  it('stops recursion once the budget is full', () => {
    const chain = book([
      { keys: ['reef'], content: 'The reef hides the wreck.' },
      { keys: ['wreck'], content: 'The wreck holds gold.' },
    ]);
    expect(fired(run(chain, ['reef'], { settings: { tokenBudget: 5 } }))).toEqual(['The reef hides the wreck.']);
    expect(fired(run(chain, ['reef'], { settings: { tokenBudget: 9 } }))).toHaveLength(2);
  });

  it("a book's own token_budget caps that book alone", () => {
    const capped = book([{ constant: true, content: 'one two three' }, { constant: true, content: 'four five six' }], { tokenBudget: 4 });
    const open = book([{ constant: true, content: 'seven eight nine' }]);
    const r = run([capped, open], []);
    expect(fired(r)).toEqual(['one two three', 'seven eight nine']);
    expect(r.debug.find((d) => d.status !== 'fired')?.status).toBe('dropped_book_budget');
  });
});

describe('probability', () => {
  const coin = book([{ keys: ['storm'], content: 'Lightning strikes the mast.', probability: 40 }]);

  it('fires when the injected roll is under the percentage, and is not re-rolled by recursion', () => {
    expect(fired(run(coin, ['storm'], { random: () => 0.39 }))).toHaveLength(1);
    const rolls = [0.4, 0];
    const withEcho = book([...coin.entries, { constant: true, content: 'Another storm gathers.' }]);
    const r = run(withEcho, ['storm'], { random: () => rolls.shift() ?? 0 });
    expect(fired(r)).toEqual(['Another storm gathers.']);
    expect(r.debug.map((d) => d.status)).toEqual(['fired', 'dropped_probability']);
    expect(rolls).toEqual([0]);
  });

  it('rolls only for entries that use probability below 100; 0 never fires', () => {
    let rolls = 0;
    const random = () => {
      rolls++;
      return 0;
    };
    const b = book([
      { keys: ['storm'], content: 'always', probability: 100 },
      { keys: ['storm'], content: 'unchecked', probability: 10, useProbability: false },
      { keys: ['storm'], content: 'never', probability: 0 },
    ]);
    expect(fired(run(b, ['storm'], { random }))).toEqual(['always', 'unchecked']);
    expect(rolls).toBe(1);
  });
});

describe('several books', () => {
  it('merge into one list by insertion order; ties go to the earlier book', () => {
    const chatBook = book([{ keys: ['ember'], order: 50, content: 'chat: ember' }], { name: 'chat notes' });
    const charBook = book(
      [
        { keys: ['ember'], order: 50, content: 'char: ember' },
        { keys: ['ember'], order: 20, content: 'char: early' },
      ],
      { name: 'Kestrel' },
    );
    const r = run([chatBook, charBook], ['An ember drifts up.'], { settings: { tokenBudget: 4 } });
    expect(fired(r)).toEqual(['chat: ember', 'char: ember']);
    expect(describeLore(r)).toEqual([
      `+ ember (chat notes #${chatBook.entries[0]?.id}): key "ember"`,
      `+ ember (Kestrel #${charBook.entries[0]?.id}): key "ember"`,
      `- ember (Kestrel #${charBook.entries[1]?.id}): key "ember"; dropped: token budget full`,
    ]);
  });
});
