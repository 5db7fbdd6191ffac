/**
 * A single Slack instance (no Redis) restarted right after it posted into a channel: the real
 * adapter and WebClient against the fake Slack, whose chat.postMessage allows 3 posts per 3 s per
 * channel, on one clock moved by hand (the budget's waits move it). With each channel's posts
 * kept in the database (`chatTally`, as `createPlatformAdapters` wires a single instance), the
 * restarted run's first post waits until the run before's have left Slack's window; without it,
 * Slack answers 429.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSlackAdapter, type SlackAdapter } from '../../../adapters/slack/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import type { Store } from '../../../src/store/index.js';
import { startFakeSlack, type FakeSlack } from '../../fakes/slack.js';
import { testLogger } from '../../helpers/harness.js';
import { trackedChatTallies } from '../../helpers/tracked-tallies.js';
import { openTestStore } from '../../store/backends.js';
import type { TestDatabase } from '../../helpers/services.js';
import { FAST_RETRY } from './world.js';

let fake: FakeSlack | undefined;
let store: Store | undefined;
let db: TestDatabase | null = null;
afterEach(async () => {
  await fake?.close();
  await store?.close();
  await db?.drop();
  fake = store = undefined;
  db = null;
});

describe('a single Slack instance restarted after posting into a channel', () => {
  async function world() {
    const clock = new ManualClock();
    fake = await startFakeSlack({ now: () => clock.now() });
    // SQLite, or PostgreSQL with CHARBRIDGE_TEST_STORE=postgres, as the harness does.
    ({ store, db } = await openTestStore(process.env.CHARBRIDGE_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite', clock));
    const log = testLogger();
    const writes: Array<Promise<unknown>> = [];
    /** One process's tallies in the shared database; the test waits for their writes, not for time. */
    const tallies = (alive?: () => boolean) => trackedChatTallies(store!.callTally, () => clock.now(), writes, alive);
    /** One run of the adapter, as `createPlatformAdapters` makes it for a single instance (or without the channel's memory). */
    const run = (remembers: boolean, alive?: () => boolean): SlackAdapter =>
      createSlackAdapter(
        { botToken: fake!.botToken, signingSecret: fake!.signingSecret, apiUrl: fake!.apiUrl, command: '/charbridge' },
        {
          handler: { handle: () => { throw new Error('no messages arrive in this test'); } },
          log,
          commands: { user: [], admin: [] },
          now: () => clock.now(),
          sleep: async (ms) => clock.advance(ms),
          ...(remembers ? { chatTally: tallies(alive) } : {}),
          tuning: { retry: FAST_RETRY },
        },
      );
    const post = (a: SlackAdapter, channel: string, text: string) => a.deliver({ key: { platform: 'slack', chatId: channel }, text, characterName: 'Aria', dedupeKey: text });
    /** The run before: three posts half a second apart, then it dies (nothing stopped, nothing flushed). */
    const before = async (channel: string) => {
      const a = run(true);
      for (const i of [1, 2, 3]) {
        await post(a, channel, `before ${i}`);
        clock.advance(500);
      }
      await Promise.all(writes);
    };
    /** The run before dies with its third post in flight: Slack posts it, its answer never comes back. */
    const diesMidPost = async (channel: string) => {
      let alive = true;
      const a = run(true, () => alive);
      for (const i of [1, 2]) {
        await post(a, channel, `before ${i}`);
        clock.advance(500);
      }
      const answer = fake!.holdNextAnswer('chat.postMessage');
      void post(a, channel, 'before 3');
      await answer.arrived;
      alive = false;
      await Promise.all(writes);
      return answer.release;
    };
    const posts = (channel: string) => fake!.calls.filter((c) => c.method === 'chat.postMessage' && c.params.channel === channel).map((c) => [c.at - t0, c.status]);
    const t0 = clock.now();
    return { run, post, before, diesMidPost, posts };
  }

  it('holds the new run’s first post until the posts before the restart have left the channel’s window', async () => {
    const { run, post, before, posts } = await world();
    await before('D0RESTART');
    await post(run(true), 'D0RESTART', 'after the restart');
    expect(posts('D0RESTART')).toEqual([
      [0, 200],
      [500, 200],
      [1000, 200],
      [3000, 200], // not at 1500: the first post before the restart left the window at 3000
    ]);
    expect(fake!.tooManyRequests).toBe(0);
    expect(fake!.channelMessages('D0RESTART').map((m) => m.text)).toEqual(['before 1', 'before 2', 'before 3', 'after the restart']);
  });

  it('counts a post that was in flight when the run before died: Slack had posted it', async () => {
    const { run, post, diesMidPost, posts } = await world();
    const release = await diesMidPost('D0INFLIGHT');
    await post(run(true), 'D0INFLIGHT', 'after the restart');
    release();
    expect(posts('D0INFLIGHT')).toEqual([
      [0, 200],
      [500, 200],
      [1000, 200],
      [3000, 200],
    ]);
    expect(fake!.tooManyRequests).toBe(0);
  });

  it('without the channel kept in the database, the new run posts at once and Slack answers 429 (waited out)', async () => {
    const { run, post, before, posts } = await world();
    await before('D0FORGOT');
    await post(run(false), 'D0FORGOT', 'after the restart');
    expect(posts('D0FORGOT')).toEqual([
      [0, 200],
      [500, 200],
      [1000, 200],
      [1500, 429],
      [3500, 200], // Retry-After in whole seconds: 2
    ]);
    expect(fake!.tooManyRequests).toBe(1);
  });
});
