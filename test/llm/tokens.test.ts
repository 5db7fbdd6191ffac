import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import bundledRanks from 'gpt-tokenizer/bpeRanks/o200k_base';
import { countTokens as bundledCount } from 'gpt-tokenizer';
import { countRepeatedTokens, countTokens, ranksFromTiktoken } from '../../src/llm/tokens.js';

describe('token counting', () => {
  it('reads the same o200k rank table from the .tiktoken file as gpt-tokenizer bundles as a module', () => {
    const file = createRequire(import.meta.url).resolve('gpt-tokenizer/data/o200k_base.tiktoken');
    const ranks = ranksFromTiktoken(readFileSync(file, 'latin1'));
    const bundled = bundledRanks as unknown as Array<string | number[]>;
    expect(ranks.length).toBe(bundled.length);
    let differing = 0;
    for (let i = 0; i < bundled.length; i++) if (JSON.stringify(ranks[i]) !== JSON.stringify(bundled[i])) differing++;
    expect(differing).toBe(0);
    // Both kinds of entry are present: whole characters as text, partial UTF-8 sequences as bytes.
    expect(ranks.some((r) => Array.isArray(r))).toBe(true);
    expect(ranks[0]).toBe('!');
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

  it('counts special-token text a user typed as plain text instead of refusing it', () => {
    const typed = 'what does <|endoftext|> or <|im_start|> mean?';
    expect(() => bundledCount(typed)).toThrow(/special token/);
    expect(countTokens(typed)).toBe(bundledCount(typed, { disallowedSpecial: new Set() }));
    expect(countTokens(typed)).toBeGreaterThan(countTokens('what does or mean?'));
  });
});
