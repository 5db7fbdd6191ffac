import { expandMacros } from '../../src/cards/index.js';
import { countTokens } from '../../src/llm/index.js';
import { newLoreBook, newLoreEntry, ScanWatchdog, type LoreBook, type LoreMessage } from '../../src/lore/index.js';
import { median, ms, percentile, ratio } from './stats.js';

const ENTRIES = 1000;
const RUNS = 60;
const WORDS = 'amber basil cedar delta ember fjord grove harbor island juniper kestrel lagoon meadow nectar orchid prairie quartz raven saffron tundra umber valley willow xenon yarrow zephyr'.split(' ');

/**
 * A thousand-entry book like the big ones shared for SillyTavern (about 1.8 MB of JSON): two or
 * three plain keys an entry, a `/regex/` key on one in fifty, secondary keys on one in ten, and
 * a paragraph of content naming `{{char}}` and `{{user}}`.
 */
function bigBook(b: number): LoreBook {
  return newLoreBook({
    name: `Book ${b}`,
    entries: Array.from({ length: ENTRIES }, (_, i) =>
      newLoreEntry({
        id: i,
        keys: [`${WORDS[i % 26]}${b}x${i}`, `${WORDS[(i * 7) % 26]}-${i}`, ...(i % 50 === 0 ? [`/${WORDS[i % 26]}s?\\b/i`] : [])],
        secondaryKeys: i % 10 === 0 ? [WORDS[(i * 3) % 26]!] : [],
        selective: i % 10 === 0,
        content: `Entry ${i} of book ${b}, as {{char}} tells {{user}}. ${'The harbor lights flicker over the lagoon as the tide turns. '.repeat(22)}`,
      }),
    ),
  });
}

const messages: LoreMessage[] = [
  { text: `We sailed past the amber meadow and the raven island yesterday, ${'talking about nothing much at all. '.repeat(5)}`, name: 'Sam' },
  { text: `Yes, the cedar-3 grove was lovely. ${'I remember the lights over the water. '.repeat(5)}`, name: 'Aria' },
  { text: 'Tell me about amber0x0 and the willow-22 please', name: 'Sam' },
];

/**
 * A turn's lorebook scan as the engine runs it (under the watchdog, with the card macros), for
 * one and for ten thousand-entry books, against the floor of the least any scan must do: each
 * enabled entry's primary keys looked for once in the lower-cased chat, with no activation
 * around it. The first scan of a book compiles its keys; later turns reuse them.
 */
export async function benchLore(): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = {};
  const books = Array.from({ length: 10 }, (_, b) => bigBook(b));
  out['book size'] = `${ENTRIES} entries, ${(JSON.stringify(books[0]).length / 1e6).toFixed(2)} MB of JSON`;
  const chat = messages.map((m) => (typeof m === 'string' ? m : `${m.name}: ${m.text}`)).join('\n').toLowerCase();
  const floorKeys = books.flatMap((b) => b.entries.flatMap((e) => e.keys.map((k) => k.toLowerCase())));
  let found = 0;
  const floor = timeSync(() => {
    for (const k of floorKeys) if (chat.includes(k)) found++;
  });
  const f50 = median(floor);
  out['floor: every key of ten books looked for once, p50'] = `${ms(f50)} (${found / (RUNS + 5)} of ${floorKeys.length} keys in the chat)`;
  const watchdog = new ScanWatchdog(1000);
  const now = new Date();
  const scanOf = (scanned: LoreBook[]) => () => {
    const r = watchdog.activate(scanned, {
      messages,
      settings: { tokenBudget: 2000 },
      countTokens,
      substitute: (text) => expandMacros(text, { char: 'Aria', user: 'Sam', now }),
    });
    if (!r.activation?.fired.length) throw new Error('the scan fired nothing: the bench is not measuring a real scan');
  };
  // A book of its own warms the code and the tokenizer up, so a first scan counts only compiling.
  timeSync(scanOf([bigBook(99)]));
  for (const count of [1, 10]) {
    const scan = scanOf(books.slice(0, count));
    const t = performance.now();
    scan();
    out[`${count} book(s): first scan (compiling ${count === 1 ? 'its' : "nine more books'"} keys)`] = ms(performance.now() - t);
    const times = timeSync(scan);
    const p50 = median(times);
    out[`${count} book(s): scan p50 / p99`] = `${ms(p50)} / ${ms(percentile(times, 99))} (${ratio(p50, f50 * (count / 10))} of the floor for as many keys)`;
  }
  return out;
}

function timeSync(fn: () => void): number[] {
  for (let i = 0; i < 5; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return times;
}
