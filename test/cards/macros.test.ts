import { describe, expect, it } from 'vitest';
import { expandMacros, macroCharName, type MacroContext } from '../../src/cards/index.js';

/** A random source that plays back the given rolls in order. */
const rolls = (...values: number[]) => () => {
  const next = values.shift();
  if (next === undefined) throw new Error('more random numbers asked for than the test supplied');
  return next;
};
const ctx = (extra: Partial<MacroContext> = {}): MacroContext => ({
  char: 'Marisol',
  user: 'Sam',
  now: new Date(Date.UTC(2025, 0, 5, 15, 4)),
  timeZone: 'UTC',
  ...extra,
});

describe('expandMacros', () => {
  it('replaces {{char}} and {{user}}, ignoring case and spaces inside the braces', () => {
    expect(expandMacros('{{user}} meets {{char}}; {{ CHAR }} greets {{User }}.', ctx())).toBe('Sam meets Marisol; Marisol greets Sam.');
  });

  it('replaces the legacy <USER>, <BOT> and <CHAR> in any case', () => {
    expect(expandMacros('<USER> and <bot>, <Char> and <user>', ctx())).toBe('Sam and Marisol, Marisol and Sam');
  });

  it('formats {{time}}, {{date}} and {{weekday}} like SillyTavern, in the given time zone', () => {
    const text = '{{time}} | {{date}} | {{weekday}} | {{ TIME }}';
    expect(expandMacros(text, ctx())).toBe('3:04 PM | January 5, 2025 | Sunday | 3:04 PM');
    expect(expandMacros(text, ctx({ timeZone: 'Asia/Tokyo' }))).toBe('12:04 AM | January 6, 2025 | Monday | 12:04 AM');
  });

  it('picks from {{random:a,b,c}} with the injected random, trimming items and honouring \\,', () => {
    const text = '{{random:red, green ,blue}}/{{random:red, green ,blue}}/{{random:red, green ,blue}}';
    expect(expandMacros(text, ctx({ random: rolls(0, 0.5, 0.999) }))).toBe('red/green/blue');
    expect(expandMacros('{{random:one\\, two,three}}', ctx({ random: rolls(0) }))).toBe('one, two');
    expect(expandMacros('{{RANDOM : x,y}}', ctx({ random: rolls(0.9) }))).toBe('y');
  });

  it('splits {{random::a::b}} on :: without trimming, keeping commas', () => {
    expect(expandMacros('{{random:: a, b ::c}}', ctx({ random: rolls(0) }))).toBe(' a, b ');
    expect(expandMacros('{{random::a::c}}', ctx({ random: rolls(0.7) }))).toBe('c');
  });

  it('expands macros nested in a random list, but never what a substitution brought in', () => {
    expect(expandMacros('{{random:{{user}},{{char}}}}', ctx({ random: rolls(0.6) }))).toBe('Marisol');
    expect(expandMacros('Hi {{user}}, I am {{char}}', ctx({ user: '{{char}}' }))).toBe('Hi {{char}}, I am Marisol');
  });

  it('leaves macros nested past twenty levels as written, where ten thousand levels overflowed the stack', () => {
    const deep = (n: number) => `${'{{random:'.repeat(n)}{{user}}${'}}'.repeat(n)}`;
    expect(expandMacros(deep(3), ctx())).toBe(expandMacros('{{user}}', ctx()));
    expect(expandMacros(deep(19), ctx())).toBe(expandMacros('{{user}}', ctx()));
    expect(expandMacros(deep(20), ctx())).toBe('{{user}}'); // the twenty-first level, as written
    expect(() => expandMacros(deep(10_000), ctx())).not.toThrow();
    expect(expandMacros(`${'{{x'.repeat(20_000)}${'}}'.repeat(20_000)}`, ctx())).toContain('{{x{{x');
  });

  it('removes {{// comments}}, also across lines and around nested braces', () => {
    expect(expandMacros('a{{// note to self}}b', ctx())).toBe('ab');
    expect(expandMacros('a{{//line one\nline two}}b', ctx())).toBe('ab');
    expect(expandMacros('a{{ // mentions {{char}} }}b', ctx())).toBe('ab');
  });

  it('leaves unknown and unfinished macros exactly as written', () => {
    const text = '{{getvar::mood}} {{ Unknown }} {{random}} {{random:}} {{pick::a::b}} {{char';
    expect(expandMacros(text, ctx())).toBe(text);
    expect(expandMacros('{{ {{char}}', ctx())).toBe('{{ Marisol');
  });

  it('is deterministic with an injected random', () => {
    const text = '{{random:a,b,c,d}} {{random::w::x::y::z}} {{date}}';
    const once = expandMacros(text, ctx({ random: rolls(0.3, 0.8) }));
    expect(once).toBe('b z January 5, 2025');
    expect(expandMacros(text, ctx({ random: rolls(0.3, 0.8) }))).toBe(once);
  });
});

describe('macroCharName', () => {
  it('prefers the V3 nickname over the name', () => {
    expect(macroCharName({ name: 'Quill-7 Archivist', nickname: 'Quill' })).toBe('Quill');
    expect(macroCharName({ name: 'Quill-7 Archivist', nickname: '  ' })).toBe('Quill-7 Archivist');
    expect(macroCharName({ name: 'Bram' })).toBe('Bram');
  });
});
