/**
 * Slack after a crash. Its sends take no idempotency key, so a reply's messages say which answer
 * (and which part of it) they are in their metadata; a reply sent again — recovered from a dead
 * process, or a proactive message retried — first looks for them (conversations.history or
 * .replies with include_all_metadata) and shows only what is missing. The fake keeps metadata and
 * answers both lookups as Slack does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dropOnce } from '../../helpers/dropped-connection.js';
import { redeliver } from '../../../src/runtime.js';
import { appMention, imMessage } from '../../fakes/slack.js';
import { startSlackWorld, texts, type SlackWorld } from './world.js';
import { hasRedis, redisPrefix } from '../../helpers/services.js';
import { testRedisClient } from '../../helpers/redis-server.js';

let w: SlackWorld | undefined;
const clearAfter: Array<{ clear(): Promise<number> }> = [];
afterEach(async () => {
  await w?.close();
  w = undefined;
  await Promise.all(clearAfter.splice(0).map((r) => r.clear()));
});

const calls = (world: SlackWorld, method: string) => world.fake.calls.filter((c) => c.method === method && c.status === 200);

/** From now on the process "dies" after Slack has shown a reply, before its claim is marked done. */
function dieBeforeMarking(world: SlackWorld): () => Promise<number> {
  const { events } = world.rt.store;
  const complete = events.complete.bind(events);
  events.complete = async () => {};
  // The next process: finds the dead one's claims and sends their stored replies again.
  return async () => {
    events.complete = complete;
    await world.rt.store.db.updateTable('processed_events').set({ owner: 'a-process-that-died' }).where('state', '=', 'processing').execute();
    return world.rt.engine.recover((m, replies) => redeliver(world.rt.adapters, m, replies));
  };
}

describe('slack adapter: a reply sent again after a crash', () => {
  it('is not posted twice in a DM: the lookup finds the posted reply by its metadata', async () => {
    w = await startSlackWorld();
    const recover = dieBeforeMarking(w);
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0ALICE', user: 'U0ALICE', text: 'still there?' }));
    await w.settled();
    expect(texts(w.fake, 'D0ALICE')).toEqual(['Echo: still there?']);
    const posted = calls(w, 'chat.postMessage');
    const updated = calls(w, 'chat.update');
    expect(posted.at(-1)!.params.metadata).toMatchObject({ event_type: 'charbridge_reply', event_payload: { from: 0, part: 0 } });

    expect(await recover()).toBe(1);
    await w.settled();
    expect(texts(w.fake, 'D0ALICE')).toEqual(['Echo: still there?']);
    expect(calls(w, 'conversations.history')).toHaveLength(1);
    expect(calls(w, 'chat.postMessage')).toHaveLength(posted.length); // nothing new posted
    expect(calls(w, 'chat.update')).toHaveLength(updated.length); // nor edited: it already says all of it
  });

  it('sends a reply that never began sending without looking for it (no Tier 3 lookup spent)', async () => {
    w = await startSlackWorld();
    const key = { platform: 'slack' as const, chatId: 'D0HANK' };
    // The dead process claimed the message and died before its first call to Slack: no note.
    await w.adapter.deliver({ key, text: 'Hello there', characterName: 'Aria', dedupeKey: 'event-20', maybeSent: true });
    expect(texts(w.fake, 'D0HANK')).toEqual(['Hello there']);
    expect(w.fake.calls.filter((c) => c.method.startsWith('conversations.'))).toHaveLength(0);
    // That attempt noted itself before posting: one more is looked up, and finds it.
    await w.adapter.deliver({ key, text: 'Hello there', characterName: 'Aria', dedupeKey: 'event-20', maybeSent: true });
    expect(texts(w.fake, 'D0HANK')).toEqual(['Hello there']);
    expect(calls(w, 'conversations.history')).toHaveLength(1);
  });

  it('in a DM thread, looks in the thread the message was asked in, and sends there', async () => {
    w = await startSlackWorld();
    const recover = dieBeforeMarking(w);
    const parent = '1700000000.000100';
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0FRAN', user: 'U0FRAN', text: 'in a thread', thread_ts: parent }));
    await w.settled();
    const thread = w.fake.channelMessages('D0FRAN', parent);
    expect(thread.map((m) => m.text)).toEqual(['Echo: in a thread']);

    expect(await recover()).toBe(1);
    await w.settled();
    expect(w.fake.channelMessages('D0FRAN')).toEqual(thread); // nothing new, in the thread or at the top
    expect(calls(w, 'conversations.replies').map((c) => c.params.ts)).toEqual([parent]);
  });

  /**
   * A reply in a DM thread that already holds 250 replies of the last hours (the lookup's first
   * page, oldest first, is all of them), answered, then sent again by the next process: the
   * thread before and after.
   */
  async function replyInLongThread(world: SlackWorld, channel: string, text: string) {
    const recover = dieBeforeMarking(world);
    const parent = '1700000000.000200';
    world.fake.seedMessages(channel, Array.from({ length: 250 }, (_, i) => `an earlier reply ${i}`), { threadTs: parent, atMs: Date.now() - 3 * 3_600_000 });
    await world.fake.postEvent(world.eventsUrl, imMessage({ channel, user: 'U0GINA', text, thread_ts: parent }));
    await world.settled();
    const before = world.fake.channelMessages(channel, parent);
    expect(await recover()).toBe(1);
    await world.settled();
    return { before, after: world.fake.channelMessages(channel, parent) };
  }

  it("finds it in a long DM thread too, where the lookup's first page (oldest first) holds only older replies", async () => {
    w = await startSlackWorld();
    const { before, after } = await replyInLongThread(w, 'D0GINA', 'still in the thread');
    expect(before.at(-1)?.text).toBe('Echo: still in the thread');
    expect(after).toEqual(before); // nothing posted again, nor edited
  });

  it('is not posted again in a long DM thread when it went out as a message: the lookup starts where the reply began', async () => {
    w = await startSlackWorld({ slack: { streamingSupported: false } });
    const { before, after } = await replyInLongThread(w, 'D0HUGO', 'one more');
    expect(before.filter((m) => m.text === 'Echo: one more')).toHaveLength(1);
    expect(after.filter((m) => m.text === 'Echo: one more')).toHaveLength(1);
    expect(after).toHaveLength(251);
  });

  it('leaves a closed native stream in a thread as it is', async () => {
    w = await startSlackWorld();
    const recover = dieBeforeMarking(w);
    const mention = appMention({ channel: 'C0THREAD', user: 'U0ALICE', text: `<@${w.fake.botUserId}> tell me` });
    await w.fake.postEvent(w.eventsUrl, mention);
    await w.settled();
    const thread = w.fake.channelMessages('C0THREAD', mention.ts as string);
    expect(thread).toEqual([expect.objectContaining({ stream: 'stopped' })]);

    expect(await recover()).toBe(1);
    await w.settled();
    expect(w.fake.channelMessages('C0THREAD', mention.ts as string)).toEqual(thread);
    expect(calls(w, 'conversations.replies')).toHaveLength(1);
    expect(calls(w, 'chat.postMessage')).toHaveLength(0);
  });

  describe('a native stream the crash left open (Slack shows no metadata on it until it stops)', () => {
    const story = 'Once upon a time there was a very small dragon who lived under a bridge.';
    /** Reply `tag` to a mention in a thread: its conversation key and the planner's target. */
    function threadReply(world: SlackWorld, tag: string) {
      const mention = appMention({ channel: 'C0THREAD', user: 'U0ALICE', text: `<@${world.fake.botUserId}> a story?` });
      const key = { platform: 'slack' as const, chatId: 'C0THREAD', threadId: mention.ts as string };
      return { key, target: { ...world.adapter.keys.decode(key), recipient: { userId: 'U0ALICE', teamId: world.fake.teamId }, tag } };
    }
    /** From now on the notes naming a stream never land (the process dies before they do). */
    function holdStreamNotes(world: SlackWorld) {
      const marks = world.rt.store.sendMarks;
      const put = marks.put.bind(marks);
      marks.put = (key, value, at) => (value.includes('"stream"') ? new Promise(() => {}) : put(key, value, at));
    }
    /** The dead process's attempt at reply `tag` in a thread: a stream opened with the first words, never stopped. */
    async function openedBeforeTheCrash(world: SlackWorld, tag: string) {
      const { key, target } = threadReply(world, tag);
      const planner = world.adapter.planner(target);
      const step = planner.plan('Once upon a time', false);
      expect(step).toMatchObject({ via: 'native', step: { kind: 'start' } });
      await planner.perform(step);
      const [stream] = world.fake.channelMessages('C0THREAD', key.threadId);
      expect(stream).toMatchObject({ stream: 'open', text: 'Once upon a time' });
      return { key, ts: stream!.ts };
    }

    it('is stopped and edited up to the whole reply, not posted beside', async () => {
      w = await startSlackWorld();
      const { key, ts } = await openedBeforeTheCrash(w, 'event-11');
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-11', maybeSent: true });
      const thread = w.fake.channelMessages('C0THREAD', key.threadId);
      expect(thread).toEqual([expect.objectContaining({ ts, text: story, stream: 'stopped', updates: 1 })]);
      expect(thread[0]!.metadata).toMatchObject({ event_type: 'charbridge_reply', event_payload: { key: 'event-11', from: 0, part: 0 } });
      expect(calls(w, 'chat.postMessage')).toHaveLength(0);
      // Sent once more: the stopped stream is found by its metadata and already says it all.
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-11', maybeSent: true });
      expect(w.fake.channelMessages('C0THREAD', key.threadId)).toEqual(thread);
      expect(calls(w, 'chat.stopStream')).toHaveLength(1);
    });

    it('is found by its note alone when Slack will not answer the lookup (its tier spent by a burst of recoveries)', async () => {
      w = await startSlackWorld();
      const { key, ts } = await openedBeforeTheCrash(w, 'event-14');
      // Another reply's lookup draws a 429: no lookup is tried for the next 30 s.
      await w.adapter.deliver({ key, text: 'another reply', characterName: 'Aria', dedupeKey: 'event-other' });
      w.fake.rateLimitNext('conversations.replies', 30);
      await w.adapter.deliver({ key, text: 'another reply', characterName: 'Aria', dedupeKey: 'event-other', maybeSent: true });
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-14', maybeSent: true });
      expect(w.fake.channelMessages('C0THREAD', key.threadId).filter((m) => m.ts === ts || m.text === story)).toEqual([expect.objectContaining({ ts, text: story, stream: 'stopped' })]);
      expect(w.fake.calls.filter((c) => c.method === 'conversations.replies').map((c) => c.status)).toEqual([429]);
    });

    it('is found by its note when a database restart dropped the note\'s first write', async () => {
      w = await startSlackWorld();
      // The stream's note fails once as a PostgreSQL restart fails a statement (its connection dropped).
      const put = dropOnce(w.rt.store.sendMarks, 'put', { only: (_key: string, value: string) => value.includes('"stream"') });
      const { key, ts } = await openedBeforeTheCrash(w, 'event-15');
      expect(put.hasDropped()).toBe(true);
      // Slack will not answer a lookup for the next 30 s: only the note can find the open stream.
      await w.adapter.deliver({ key, text: 'another reply', characterName: 'Aria', dedupeKey: 'event-other' });
      w.fake.rateLimitNext('conversations.replies', 30);
      await w.adapter.deliver({ key, text: 'another reply', characterName: 'Aria', dedupeKey: 'event-other', maybeSent: true });
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-15', maybeSent: true });
      expect(w.fake.channelMessages('C0THREAD', key.threadId).filter((m) => m.ts === ts || m.text === story)).toEqual([expect.objectContaining({ ts, text: story, stream: 'stopped' })]);
    });

    it('is found by the lookup when its process died before the note landed: the bot\'s untagged message showing the reply\'s first words', async () => {
      // Chaos seed 1285: a busy process read Slack's answer to chat.startStream 47 ms late and was
      // killed 130 ms after Slack opened the stream, its note not written; the reply was posted again beside it.
      w = await startSlackWorld();
      holdStreamNotes(w);
      const { key, target } = threadReply(w, 'event-17');
      // A notice of the bot's in the same thread, which is not the reply and stays as it is.
      await w.adapter.deliver({ key, text: 'Slow down a little.', characterName: 'Aria' });
      const planner = w.adapter.planner(target);
      void planner.perform(planner.plan('Once upon a time', false)!);
      await expect.poll(() => w!.fake.channelMessages('C0THREAD', key.threadId).map((m) => m.stream ?? 'message')).toEqual(['message', 'open']);
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-17', maybeSent: true });
      expect(w.fake.channelMessages('C0THREAD', key.threadId).map((m) => [m.text, m.stream ?? 'message'])).toEqual([['Slow down a little.', 'message'], [story, 'stopped']]);
      expect(calls(w, 'chat.postMessage')).toHaveLength(1); // the notice
    });

    it.skipIf(!hasRedis())('is found by its note when a database outage held the note up until the process died (with Redis)', async () => {
      const r = redisPrefix();
      clearAfter.push(r);
      w = await startSlackWorld({ env: { REDIS_URL: r.url, REDIS_PREFIX: r.prefix } });
      // The stream's note waits for PostgreSQL, which is restarting; the process dies meanwhile.
      holdStreamNotes(w);
      const { key, target } = threadReply(w, 'event-16');
      const planner = w.adapter.planner(target);
      void planner.perform(planner.plan('Once upon a time', false)!);
      await expect.poll(() => w!.fake.channelMessages('C0THREAD', key.threadId).map((m) => m.stream)).toEqual(['open']);
      const copied = testRedisClient(r.url);
      await copied.connect();
      await expect.poll(async () => (await copied.keys(`${r.prefix}mark:*`)).length).toBe(1);
      copied.disconnect();

      // The next process: the database still says only that the reply began; the copy names the stream.
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-16', maybeSent: true });
      expect(w.fake.channelMessages('C0THREAD', key.threadId)).toEqual([expect.objectContaining({ text: story, stream: 'stopped' })]);
      expect(calls(w, 'chat.postMessage')).toHaveLength(0);
    });

    it('is stopped once a 429 on chat.stopStream is waited out, not left open beside the reply', async () => {
      w = await startSlackWorld();
      const { key, ts } = await openedBeforeTheCrash(w, 'event-16');
      w.fake.rateLimitNext('chat.stopStream', 1);
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-16', maybeSent: true });
      expect(w.fake.channelMessages('C0THREAD', key.threadId)).toEqual([expect.objectContaining({ ts, text: story, stream: 'stopped' })]);
      expect(w.fake.calls.filter((c) => c.method === 'chat.stopStream').map((c) => c.status)).toEqual([429, 200]);
    });

    it('is edited when Slack has ended it already (a long outage)', async () => {
      w = await startSlackWorld({ slack: { streamLifetimeMs: -1 } }); // every stream ended the moment it began
      const { key, ts } = await openedBeforeTheCrash(w, 'event-12');
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-12', maybeSent: true });
      expect(w.fake.channelMessages('C0THREAD', key.threadId)).toEqual([expect.objectContaining({ ts, text: story, updates: 1 })]);
      expect(w.fake.calls.filter((c) => c.method === 'chat.stopStream').map((c) => c.error)).toEqual(['message_not_in_streaming_state']);
      expect(calls(w, 'chat.postMessage')).toHaveLength(0);
    });

    it('ends the reply where the user stopped it, as a live reply does', async () => {
      w = await startSlackWorld();
      const { key, ts } = await openedBeforeTheCrash(w, 'event-13');
      w.fake.stopStreamByUser('C0THREAD', ts);
      await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-13', maybeSent: true });
      expect(texts(w.fake, 'C0THREAD', key.threadId)).toEqual(['Once upon a time']);
      expect(calls(w, 'chat.postMessage')).toHaveLength(0);
      expect(calls(w, 'chat.update')).toHaveLength(0);
    });
  });

  it('edits a preview the crash cut short up to the whole reply, and posts only the parts missing', async () => {
    w = await startSlackWorld({ tuning: { messageLimit: 100 } });
    const key = { platform: 'slack' as const, chatId: 'D0BOB' };
    const story = Array.from({ length: 30 }, (_, i) => `word${i + 1}`).join(' '); // three messages of ≤ 100
    // The dead process had posted the first part's preview only.
    await w.adapter.deliver({ key, text: 'word1 word2', characterName: 'Aria', dedupeKey: 'event-7' });
    await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-7', maybeSent: true });
    const shown = w.fake.channelMessages('D0BOB');
    expect(shown.map((m) => m.text).join(' ').replace(/\s+/g, ' ')).toBe(story);
    expect(shown.map((m) => m.updates)).toEqual([1, 0, 0]); // the preview edited, the rest posted
    // Once more: found whole, nothing changes.
    await w.adapter.deliver({ key, text: story, characterName: 'Aria', dedupeKey: 'event-7', maybeSent: true });
    expect(w.fake.channelMessages('D0BOB')).toEqual(shown);
  });

  it('sends again a proactive message its process was sending when it died, and it shows once', async () => {
    w = await startSlackWorld();
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0GINA', user: 'U0GINA', text: 'exam tomorrow' }));
    await w.settled();
    w.openai.respondWith(() => 'How did the exam go?');
    const { store, scheduler } = w.rt;
    const conv = (await store.conversations.getByScope('slack:D0GINA'))!;
    expect((await scheduler.sendNow(conv.id)).sent).toBe(true);
    await w.settled();
    // Slack had it; the process died before marking it delivered.
    const row = (await store.proactive.outboxFor(conv.id))[0]!;
    await store.db.updateTable('proactive_outbox').set({ state: 'sending', owner: 'died-mid-send' }).where('id', '=', row.id).execute();
    await scheduler.tick();
    expect((await store.proactive.outboxFor(conv.id))[0]!.state).toBe('delivered');
    expect(calls(w, 'conversations.history')).toHaveLength(1); // sent again as a retry: looked first
    expect(texts(w.fake, 'D0GINA')).toEqual(['Echo: exam tomorrow', 'How did the exam go?']);
  });

  it('edits what its notes name when Slack will not answer the lookup (a missing scope, a rate limit): shown once', async () => {
    w = await startSlackWorld();
    const key = { platform: 'slack' as const, chatId: 'D0CAROL' };
    await w.adapter.deliver({ key, text: 'Hello there', characterName: 'Aria', dedupeKey: 'event-9' });
    w.fake.failNext('conversations.history', 'missing_scope');
    await w.adapter.deliver({ key, text: 'Hello there', characterName: 'Aria', dedupeKey: 'event-9', maybeSent: true });
    w.fake.rateLimitNext('conversations.history', 30); // not waited out: recovery would hold every chat behind it
    await w.adapter.deliver({ key, text: 'Hello there', characterName: 'Aria', dedupeKey: 'event-9', maybeSent: true });
    // Slack said the tier is spent for 30 s: until then no lookup is even tried.
    await w.adapter.deliver({ key, text: 'Hello there', characterName: 'Aria', dedupeKey: 'event-9', maybeSent: true });
    expect(w.fake.calls.filter((c) => c.method === 'conversations.history').map((c) => c.error ?? c.status)).toEqual(['missing_scope', 'ratelimited']);
    expect(texts(w.fake, 'D0CAROL')).toEqual(['Hello there']);
    expect(calls(w, 'chat.postMessage')).toHaveLength(1);
  });

  it('sends the reply whole when neither Slack nor a note can say what it shows: maybe twice, never late or lost', async () => {
    w = await startSlackWorld();
    const key = { platform: 'slack' as const, chatId: 'D0DAVE' };
    await w.adapter.deliver({ key, text: 'Hello there', characterName: 'Aria', dedupeKey: 'event-10' });
    // The note says it began sending, not what it posted: the crash came between the post and its note.
    await w.rt.store.sendMarks.put('slack:reply:event-10', '{}');
    w.fake.failNext('conversations.history', 'missing_scope');
    await w.adapter.deliver({ key, text: 'Hello there', characterName: 'Aria', dedupeKey: 'event-10', maybeSent: true });
    expect(texts(w.fake, 'D0DAVE')).toEqual(['Hello there', 'Hello there']);
  });
});

describe('slack adapter: a delivery is acknowledged only once its message is on disk', () => {
  /** Hold the engine's claim of every message until `release()`; `entered` once one is waiting. */
  function holdClaims(world: SlackWorld) {
    const { events } = world.rt.store;
    const claimOutcome = events.claimOutcome.bind(events);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const state = { entered: false, release };
    events.claimOutcome = async (c) => {
      state.entered = true;
      await gate;
      return claimOutcome(c);
    };
    return state;
  }
  const settledSoon = <T>(p: Promise<T>) => Promise.race([p.then(() => 'answered'), new Promise((r) => setTimeout(r, 100, 'waiting'))]);

  it('over HTTP: the 200 waits for the claim (a crash before it leaves the event to Slack to send again)', async () => {
    w = await startSlackWorld();
    const held = holdClaims(w);
    const delivery = w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0DAVE', user: 'U0DAVE', text: 'hold on' }));
    await expect.poll(() => held.entered).toBe(true);
    expect(await settledSoon(delivery)).toBe('waiting');
    held.release();
    expect((await delivery).status).toBe(200);
    await w.settled();
    expect(texts(w.fake, 'D0DAVE')).toEqual(['Echo: hold on']);
  });

  it('over Socket Mode: the envelope is acked only after the claim', async () => {
    w = await startSlackWorld({ mode: 'socket' });
    await w.fake.waitFor(() => w!.fake.socketConnections === 1);
    const held = holdClaims(w);
    const envelope = w.fake.socketEvent(imMessage({ channel: 'D0ERIN', user: 'U0ERIN', text: 'hold on' }));
    await expect.poll(() => held.entered).toBe(true);
    expect(w.fake.socketAcks.some((a) => a.envelope_id === envelope)).toBe(false);
    held.release();
    await w.fake.waitForAck(envelope);
    await w.settled();
    expect(texts(w.fake, 'D0ERIN')).toEqual(['Echo: hold on']);
  });
});
