import { countTokens } from '../../src/llm/index.js';
import { median, ms, ratio, timeEach } from './stats.js';

/**
 * Token counting of a message-sized text (20,000 characters, the chat APIs' most) by what it is
 * made of, against the floor of ordinary English prose of the same length. Unbroken runs (CJK,
 * punctuation, a blob) are single pieces to the tokenizer, whose merge is quadratic in a piece's
 * length; they are counted a slice at a time, so each stays within a small multiple of the floor.
 */
export async function benchTokens(): Promise<Record<string, string | number>> {
  let seed = 20261207;
  const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const run = (length: number, pick: () => string) => Array.from({ length }, pick).join('');
  const LENGTH = 20_000;
  const texts: Record<string, string> = {
    'English prose (floor)': 'The quick brown fox jumps over the lazy dog, again and again. '.repeat(400).slice(0, LENGTH),
    'CJK, no spaces': run(LENGTH, () => String.fromCharCode(0x4e00 + Math.floor(next() * 0x5000))),
    'punctuation, no spaces': run(LENGTH, () => '!"#$%&()*+,-./:;<=>?@[]^_`{|}~'[Math.floor(next() * 30)]!),
    'base64 blob': Buffer.from(run((LENGTH * 3) / 4, () => String.fromCharCode(32 + Math.floor(next() * 90)))).toString('base64').slice(0, LENGTH),
  };
  const out: Record<string, string | number> = {};
  let floor = NaN;
  for (const [name, text] of Object.entries(texts)) {
    const p50 = median(await timeEach(20, async () => countTokens(text), 3));
    if (Number.isNaN(floor)) floor = p50;
    out[`${name}: count p50`] = `${ms(p50)} (${ratio(p50, floor)}; ${countTokens(text)} tokens)`;
  }
  return out;
}
