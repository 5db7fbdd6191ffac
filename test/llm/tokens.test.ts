import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import bundledRanks from 'gpt-tokenizer/bpeRanks/o200k_base';
import { countTokens as bundledCount } from 'gpt-tokenizer';
import { O200K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';
import { BpeCounter } from '../../src/llm/bpe-counter.js';
import { countRepeatedTokens, countTokens } from '../../src/llm/tokens.js';

/** gpt-tokenizer's count with special-token text taken as text, the reference for ours. */
const reference = (text: string) => bundledCount(text, { disallowedSpecial: new Set() });

/** A small seeded generator, so a failing text can be found again. */
function randomTexts(seed: number, count: number): string[] {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pools = [
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
    "0123456789 .,;:!?'\"()[]{}<>/\\-_=+*&^%$#@~`|",
    ' \t\n\r  \n\n',
    'éèêëàâäôöûüçñßÉÀÇÑøåæœ',
    'привет мир Ελληνικά שלום مرحبا',
    '日本語のテキスト한국어텍스트中文文本',
    '\u0301\u0308\u200d\ufe0f',
  ];
  const emoji = ['🙂', '🧑‍🚀', '👩🏽‍💻', '🇫🇷', '❤️', '\ud800', '\udc00'];
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    const length = 1 + Math.floor(next() * 120);
    let t = '';
    while (t.length < length) {
      const r = next();
      if (r < 0.05) t += emoji[Math.floor(next() * emoji.length)];
      else {
        const pool = pools[Math.floor(next() * pools.length)]!;
        t += [...pool][Math.floor(next() * [...pool].length)];
      }
    }
    out.push(t);
  }
  return out;
}

describe('token counting', () => {
  it('counts what gpt-tokenizer counts for every token of the vocabulary and thousands of mixed-script texts', () => {
    const file = readFileSync(createRequire(import.meta.url).resolve('gpt-tokenizer/data/o200k_base.tiktoken'));
    const counter = BpeCounter.fromTiktoken(file, O200K_TOKEN_SPLIT_REGEX);
    const vocabulary = (bundledRanks as unknown as Array<string | number[]>).filter((t): t is string => typeof t === 'string');
    expect(vocabulary.length).toBeGreaterThan(190_000);
    let differing: string[] = [];
    for (let i = 0; i < vocabulary.length; i += 3) {
      const t = vocabulary[i]!;
      if (counter.count(t) !== reference(t)) differing.push(t);
    }
    expect(differing.slice(0, 5)).toEqual([]);
    differing = randomTexts(20261203, 3000).filter((t) => counter.count(t) !== reference(t));
    expect(differing.slice(0, 5).map((t) => [t, counter.count(t), reference(t)])).toEqual([]);
    // Whole words are one token; a long run of one character is merged pair by pair.
    expect(counter.count('hello')).toBe(1);
    expect(counter.count('x'.repeat(300))).toBe(reference('x'.repeat(300)));
  });

  it('counts what the bundled tokenizer counts, across scripts, emoji and special-token text', () => {
    const texts = [
      'Hello there! How are you today?',
      'Pixel the cat sleeps on the 3rd shelf, next to “Dune” (1965).',
      '日本語のテキストと한국어 텍스트, and Ελληνικά too.',
      'emoji 🙂🧑‍🚀👩🏽‍💻 and a lone surrogate \ud800 in the middle',
      'code: `const x = await fetch(url); if (!x.ok) throw new Error(x.statusText)`',
      ' leading and trailing spaces   \n\n\ttabs',
      'a'.repeat(5000),
    ];
    for (const t of texts) expect(countTokens(t), t.slice(0, 40)).toBe(bundledCount(t));
    expect(countTokens('')).toBe(0);
    // Counted again from the cache of repeated texts (and past its length cap), the same.
    for (const t of [...texts, ...texts, 'b '.repeat(15_000)]) expect(countRepeatedTokens(t), t.slice(0, 40)).toBe(bundledCount(t));
    expect(countRepeatedTokens('')).toBe(0);
  });

  it('counts a long unbroken run (CJK, punctuation, astral letters) a slice at a time, within a token per slice of the exact count', () => {
    let seed = 7;
    const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const runs = {
      cjk: Array.from({ length: 5000 }, () => String.fromCharCode(0x4e00 + Math.floor(next() * 0x5000))).join(''),
      punctuation: Array.from({ length: 5000 }, () => '!"#$%&()*+,-./:;<=>?@[]^_`{|}~'[Math.floor(next() * 30)]).join(''),
      // One BMP letter first, so the pairs sit at odd offsets and a slice edge falls inside one
      // unless it is kept whole (a split pair would count as two U+FFFD characters).
      astral: `a${Array.from({ length: 1500 }, () => String.fromCodePoint(0x20000 + Math.floor(next() * 0x1000))).join('')}`,
    };
    for (const [name, text] of Object.entries(runs)) {
      const exact = reference(text);
      const ours = countTokens(text);
      expect(Math.abs(ours - exact), `${name}: ${ours} against ${exact}`).toBeLessThanOrEqual(Math.ceil(text.length / 128));
    }
    // A slice edge that would fall inside a pair moves past it: these 129 characters are counted
    // in one slice, exactly, where cutting at 128 would count two U+FFFD characters instead.
    const edge = `a${String.fromCodePoint(0x2a6d6).repeat(64)}`;
    expect(edge.length).toBe(129);
    expect(countTokens(edge)).toBe(reference(edge));
  });

  it('counts special-token text a user typed as plain text instead of refusing it', () => {
    const typed = 'what does <|endoftext|> or <|im_start|> mean?';
    expect(() => bundledCount(typed)).toThrow(/special token/);
    expect(countTokens(typed)).toBe(bundledCount(typed, { disallowedSpecial: new Set() }));
    expect(countTokens(typed)).toBeGreaterThan(countTokens('what does or mean?'));
  });
});
