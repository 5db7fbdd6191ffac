/**
 * A lorebook scan under its watchdog: a regular expression that backtracks for days is stopped,
 * refused from then on, and the rest of the book still works; a scan that cannot finish gives no
 * lore rather than holding the process. The patterns here take from seconds to years unstopped.
 */
import { describe, expect, it } from 'vitest';
import { ScanWatchdog, type LoreActivation, type WatchedScan } from '../../src/lore/index.js';
import { book, fired, words } from './helpers.js';

/** `/(\w|\d)+$/` passes safe-regex2 (one level of nesting) but backtracks 2^n steps over n digits. */
const STALLING = '/(\\w|\\d)+$/';
const digits = `${'1'.repeat(48)}!`;

function activation(scan: WatchedScan): LoreActivation {
  if (!scan.activation) throw new Error(`the scan was stopped (refused ${scan.refused.map((r) => r.pattern).join(', ')})`);
  return scan.activation;
}

describe('ScanWatchdog', () => {
  it('stops a pattern safe-regex2 lets through, refuses it from then on, and still fires the rest of the book', () => {
    const watchdog = new ScanWatchdog(100);
    const b = book([
      { keys: [STALLING], content: 'never', comment: 'Digits' },
      { keys: ['dragon'], content: 'Dragons breathe frost here.' },
    ]);
    const scan = watchdog.activate([book([{ keys: ['ship'] }]), b], { messages: [{ text: `the dragon ${digits}` }], countTokens: words });
    // The scan says what it refused, and in which book, though it then finished.
    expect(scan.refused).toEqual([{ pattern: STALLING, book: 1 }]);
    const first = activation(scan);
    expect(fired(first)).toEqual(['Dragons breathe frost here.']);
    expect(first.warnings).toEqual([`book 2 #${b.entries[0]!.id} "Digits": key "${STALLING}" never matches: regular expression could take exponential time`]);
    expect([...watchdog.refused]).toEqual([`/${STALLING}`]);
    // Refused without running again: the same scan now finishes at once, with the same report.
    const rescan = watchdog.activate([book([{ keys: ['ship'] }]), b], { messages: [{ text: `a dragon ${digits}` }], countTokens: words });
    expect(rescan.refused).toEqual([]);
    const again = activation(rescan);
    expect(fired(again)).toEqual(['Dragons breathe frost here.']);
    expect(again.warnings).toEqual(first.warnings);
  });

  it('refuses only the pattern that stalls: another regular expression key keeps matching', () => {
    const watchdog = new ScanWatchdog(100);
    const b = book([
      { keys: ['/(\\d|1)+$/'], content: 'never' },
      { keys: ['/drag(o|u)ns?/i'], content: 'lore' },
    ]);
    const scan = activation(watchdog.activate([b], { messages: [{ text: `DRAGONS ${digits}` }], countTokens: words }));
    expect(fired(scan)).toEqual(['lore']);
    expect(watchdog.refused.size).toBe(1);
  });

  it('gives up on a turn whose book holds more stalling patterns than one retry clears, keeping what it refused', () => {
    const watchdog = new ScanWatchdog(50);
    const b = book([{ keys: ['/(\\w|\\d)+$/'] }, { keys: ['/(\\d|\\w)+$/'] }, { keys: ['/(1|\\d)+$/'] }, { keys: ['dragon'], content: 'lore' }].map((e) => ({ content: 'never', ...e })));
    const scan = watchdog.activate([b], { messages: [{ text: `dragon ${digits}` }], countTokens: words });
    expect(scan).toEqual({ activation: undefined, refused: [{ pattern: '/(\\w|\\d)+$/', book: 0 }, { pattern: '/(\\d|\\w)+$/', book: 0 }] });
    // The next turn gets past the third.
    expect(fired(activation(watchdog.activate([b], { messages: [{ text: `dragon ${digits}` }], countTokens: words })))).toEqual(['lore']);
    expect(watchdog.refused.size).toBe(3);
  });

  it('stops a scan that cannot finish for any other reason, refusing nothing', () => {
    const watchdog = new ScanWatchdog(50);
    const b = book([{ keys: ['/drag(o|u)ns?/i'], content: 'lore' }]);
    const forever = () => {
      for (;;);
    };
    expect(watchdog.activate([b], { messages: [{ text: 'dragons' }], countTokens: forever })).toEqual({ activation: undefined, refused: [] });
    expect(watchdog.refused.size).toBe(0);
    expect(fired(activation(watchdog.activate([b], { messages: [{ text: 'dragons' }], countTokens: words })))).toEqual(['lore']);
  });
  it("compiles a book's keys before its time limit starts: a book far slower to compile than to scan still gives its lore", () => {
    // Each long alternation takes safe-regex2 some milliseconds to vet (about 10 ms for 90,000
    // characters), twenty of them far past the limit; as secondary keys behind a primary key the
    // chat never says, the scan itself never runs one.
    const watchdog = new ScanWatchdog(20);
    const alternation = (n: number) => `/${Array.from({ length: 9000 }, (_, i) => `w${n}x${i}`).join('|')}/`;
    const slow = Array.from({ length: 20 }, (_, n) => ({ keys: ['unsaid'], secondaryKeys: [alternation(n)], selective: true, content: 'never' }));
    const b = book([...slow, { keys: ['dragon'], content: 'lore' }]);
    const scan = watchdog.activate([b], { messages: [{ text: 'the dragon' }], countTokens: words });
    expect(scan.refused).toEqual([]);
    expect(fired(activation(scan))).toEqual(['lore']);
  });
});
