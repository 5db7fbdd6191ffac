import { describe, expect, it } from 'vitest';
import { renderLore, type LoreLogic } from '../../src/lore/index.js';
import { book, fired, run } from './helpers.js';

describe('secondary keys', () => {
  const chat = ['The courier brought a sealed letter and a key.'];
  it.each<[LoreLogic, string[], boolean]>([
    ['and_any', ['ribbon', 'sealed'], true],
    ['and_any', ['ribbon', 'wax'], false],
    ['and_all', ['sealed', 'key'], true],
    ['and_all', ['sealed', 'wax'], false],
    ['not_any', ['ribbon', 'wax'], true],
    ['not_any', ['ribbon', 'sealed'], false],
    ['not_all', ['sealed', 'wax'], true],
    ['not_all', ['sealed', 'key'], false],
  ])('%s with %j fires: %s', (logic, secondaryKeys, fires) => {
    const b = book([{ keys: ['courier'], secondaryKeys, logic, content: 'Couriers swear an oath of silence.' }]);
    expect(fired(run(b, chat))).toHaveLength(fires ? 1 : 0);
  });

  it('are ignored when the entry is not selective', () => {
    const b = book([{ keys: ['courier'], secondaryKeys: ['wax'], logic: 'and_all', selective: false, content: 'x' }]);
    expect(fired(run(b, chat))).toEqual(['x']);
  });
});

describe('constant and disabled entries', () => {
  it('constant entries fire without a key; disabled entries never fire', () => {
    const b = book([
      { constant: true, content: 'The kingdom of Vell is at peace.' },
      { constant: true, enabled: false, content: 'off constant' },
      { keys: ['Vell'], enabled: false, content: 'off keyed' },
    ]);
    const r = run(b, ['Tell me about Vell.']);
    expect(fired(r)).toEqual(['The kingdom of Vell is at peace.']);
    expect(r.fired[0]?.trigger).toEqual({ kind: 'constant' });
  });
});

describe('order and position', () => {
  it('orders each block by insertion order and places entries before/after the character or at a depth', () => {
    const b = book([
      { constant: true, order: 300, position: 'before_char', content: 'B-late' },
      { constant: true, order: 10, position: 'before_char', content: 'B-early' },
      { constant: true, order: 50, position: 'after_char', content: 'After' },
      { constant: true, order: 5, position: 'at_depth', depth: 2, role: 'user', content: 'D2-user' },
      { constant: true, order: 1, position: 'at_depth', depth: 0, role: 'system', content: 'D0-a' },
      { constant: true, order: 2, position: 'at_depth', depth: 0, role: 'system', content: 'D0-b' },
      { constant: true, order: 3, position: 'outlet', outletName: 'weather', content: 'Rain' },
    ]);
    const r = run(b, []);
    expect(fired(r)).toEqual(['D0-a', 'D0-b', 'Rain', 'D2-user', 'B-early', 'After', 'B-late']);
    const out = renderLore(r);
    expect(out.beforeChar).toBe('B-early\nB-late');
    expect(out.afterChar).toBe('After');
    expect(out.atDepth).toEqual([
      { depth: 2, role: 'user', text: 'D2-user' },
      { depth: 0, role: 'system', text: 'D0-a\nD0-b' },
    ]);
    expect(out.outlets).toEqual({ weather: 'Rain' });
    expect(out.authorsNoteTop).toBe('');
  });
});

describe('recursion', () => {
  const farm = (b: Record<string, unknown> = {}, c: Record<string, unknown> = {}) =>
    book([
      { keys: ['Bramble'], content: 'Bramble is a goat who follows Pip everywhere.' },
      { keys: ['Pip'], content: 'Pip is a hen; she guards the Old Well.', ...b },
      { keys: ['Old Well'], content: 'The Old Well is dry.', ...c },
    ]);

  it('scans the content of fired entries for more keys, pass after pass', () => {
    const r = run(farm(), ['Where is Bramble?']);
    expect(r.fired.map((f) => [f.entry.keys[0], f.trigger.kind, f.pass])).toEqual([
      ['Bramble', 'key', 1],
      ['Pip', 'recursion', 2],
      ['Old Well', 'recursion', 3],
    ]);
  });

  it('lets recursion supply the secondary keys of an entry whose primary key is in the chat', () => {
    const b = book([
      { keys: ['lantern'], secondaryKeys: ['oil'], content: 'Lantern oil comes from the fens.' },
      { keys: ['lantern'], content: 'Oil is scarce this winter.' },
    ]);
    const r = run(b, ['Light the lantern.']);
    expect(r.fired.map((f) => [f.content, f.trigger, f.pass])).toEqual([
      ['Lantern oil comes from the fens.', { kind: 'key', key: 'lantern' }, 2],
      ['Oil is scarce this winter.', { kind: 'key', key: 'lantern' }, 1],
    ]);
  });

  it('stops at the recursion limit, or at once when recursion is off', () => {
    expect(fired(run(farm(), ['Bramble'], { settings: { maxRecursionSteps: 2 } }))).toHaveLength(2);
    expect(fired(run(farm(), ['Bramble'], { settings: { recursive: false } }))).toHaveLength(1);
    expect(fired(run(farm(), ['Bramble'], { settings: { maxRecursionSteps: 1 } }))).toHaveLength(1);
  });

  it('excludeRecursion: the entry is not activated by other entries', () => {
    expect(fired(run(farm({ excludeRecursion: true }), ['Bramble']))).toHaveLength(1);
    expect(fired(run(farm({ excludeRecursion: true }), ['Bramble met Pip']))).toHaveLength(3);
  });

  it("preventRecursion: the entry's content triggers nothing", () => {
    expect(fired(run(farm({ preventRecursion: true }), ['Bramble']))).toHaveLength(2);
  });

  it('delayUntilRecursion: the entry waits for a recursion pass, lower levels first', () => {
    const b = book([
      { keys: ['Bramble'], content: 'Bramble the goat.' },
      { keys: ['goat'], content: 'Goats climb.', delayUntilRecursion: true },
      { keys: ['Bramble'], content: 'Level two.', delayUntilRecursion: 2 },
    ]);
    const r = run(b, ['Bramble eats hay, like a goat.']);
    expect(r.fired.map((f) => [f.entry.content, f.pass])).toEqual([
      ['Bramble the goat.', 1],
      ['Goats climb.', 2],
      ['Level two.', 4],
    ]);
  });

  it('a book with recursive scanning off takes no part in recursion', () => {
    const other = book([{ keys: ['Pip'], content: 'Pip again' }], { recursiveScanning: false });
    expect(fired(run([farm({ enabled: false }), other], ['Bramble']))).toEqual(['Bramble is a goat who follows Pip everywhere.']);
  });
});

describe('macros', () => {
  it('substitute expands keys and content before matching and insertion', () => {
    const b = book([{ keys: ['{{char}}'], content: '{{char}} keeps a diary under the floorboard.' }]);
    const substitute = (t: string) => t.replaceAll('{{char}}', 'Wren');
    const r = run(b, ['Has anyone seen Wren?'], { substitute });
    expect(renderLore(r).beforeChar).toBe('Wren keeps a diary under the floorboard.');
    expect(r.fired[0]?.tokens).toBe(7);
    expect(fired(run(b, ['Has anyone seen Wren?']))).toEqual([]);
  });

  it('expands only what a scan needs: keys with macros, and the content of entries that match', () => {
    const b = book([
      { keys: ['{{char}}'], content: '{{char}} keeps a diary.' },
      ...Array.from({ length: 50 }, (_, i) => ({ keys: [`plain${i}`], content: `{{user}} never asks about thing ${i}.` })),
      { keys: ['plain7'], content: '{{user}} asked about {{char}}.' },
    ]);
    const expanded: string[] = [];
    const substitute = (t: string) => {
      expanded.push(t);
      return t.replaceAll('{{char}}', 'Wren').replaceAll('{{user}}', 'Sam');
    };
    for (let turn = 0; turn < 2; turn++) {
      expanded.length = 0;
      const r = run(b, ['Wren and plain7'], { substitute });
      expect(fired(r).sort()).toEqual(['Sam asked about Wren.', 'Sam never asks about thing 7.', 'Wren keeps a diary.']);
      // The fifty plain keys are compiled with the book, not expanded every scan.
      expect(expanded.sort()).toEqual(['{{char}}', '{{char}} keeps a diary.', '{{user}} asked about {{char}}.', '{{user}} never asks about thing 7.']);
    }
  });
});
