import type { SharedTallyFactory } from '../../src/core/outbound-window.js';
import { storeChatTallies } from '../../src/coord/store-tally.js';
import type { CallTallyRepo } from '../../src/store/index.js';
import { testLogger } from './harness.js';

/**
 * One process's chat tallies over `repo` (a restart makes new ones on the same database), each
 * write pushed to `writes`, so a test waits for the writes instead of for time. Once `alive`
 * says false the process is dead: it writes nothing more.
 */
export function trackedChatTallies(repo: CallTallyRepo, now: () => number, writes: Array<Promise<unknown>>, alive: () => boolean = () => true): SharedTallyFactory {
  const make = storeChatTallies(repo, testLogger(), now);
  return (name, window) => {
    const t = make(name, window);
    return {
      calls: () => t.calls!(),
      add: (at?: number) => {
        if (!alive()) return Promise.resolve(0);
        const written = t.add(at);
        writes.push(written);
        return written;
      },
      move: (from: number, to: number) => {
        if (!alive()) return Promise.resolve();
        const written = t.move!(from, to);
        writes.push(written);
        return written;
      },
    };
  };
}
