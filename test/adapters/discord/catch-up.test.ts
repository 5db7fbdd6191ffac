/**
 * Discord does not deliver again what it dispatched while no process was connected: a new
 * gateway session only sees what comes after it. So a restarted adapter reads back, over REST,
 * what was sent since the newest message it had handled in each recently active channel, and
 * answers it — once, in order, before the channel's newer live messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DiscordAdapter } from '../../../adapters/discord/index.js';
import type { ManualClock } from '../../../src/core/clock.js';
import type { MessageHandler } from '../../../src/core/adapter.js';
import { alice, bob, firstMessageMissed, startDiscord, type Setup } from './helpers.js';

const carol = { id: '511111111111111111', username: 'carol' };

let s: Setup | undefined;
let next: DiscordAdapter | undefined;
afterEach(async () => {
  await next?.stop();
  next = undefined;
  await s?.close();
  s = undefined;
});

/** A process that answered one message and stopped (its gateway session left resumable); identifies barely limited. */
async function answeredThenStopped(): Promise<Setup> {
  s = await startDiscord({ catchUp: true, fake: { shards: { identifyWindowMs: 1 } } });
  const m = s.fake.userMessage({ author: alice, content: 'hello' });
  await s.fake.waitFor(() => s!.texts(m.channel_id).length === 1);
  await s.idle();
  await s.adapter.stop();
  // The fake hears a socket close a moment after the client does: wait until it has.
  await s.fake.waitFor(() => s!.fake.gatewayStats().liveSockets === 0);
  return s;
}

function closeCodes(fake: Setup['fake']): Array<number | undefined> {
  return fake.gatewayLog.filter((e) => e.op === -1).map((e) => e.closeCode);
}

describe('discord adapter: messages sent while no process listened', () => {
  it('are answered by the next start, once each and in order, before the live message after them', async () => {
    // Identifies barely limited: two starts in a row (one too soon waits out op 9 for seconds).
    s = await startDiscord({ catchUp: true, fake: { shards: { identifyWindowMs: 1 } } });
    const { fake, texts, idle } = s;
    const first = fake.userMessage({ author: alice, content: 'hello' });
    const dm = first.channel_id as string;
    await fake.waitFor(() => texts(dm).length === 1);
    const ch = fake.guild.channelId;
    fake.userMessage({ author: bob, channelId: ch, content: 'hi all', mentionsBot: true });
    await fake.waitFor(() => texts(ch).length === 1);
    await idle();

    // A deploy: the process stops (its gateway session ends), messages arrive, the next one starts.
    await s.adapter.stop();
    fake.userMessage({ author: alice, content: 'are you there?' });
    fake.userMessage({ author: alice, content: 'hello again' });
    fake.userMessage({ author: bob, channelId: ch, content: 'anyone?', mentionsBot: true });
    fake.userMessage({ author: bob, channelId: ch, content: 'just chatting among ourselves' });
    await fake.waitFor(() => fake.gatewayStats().liveSockets === 0);

    const before = fake.calls.length;
    next = s.newAdapter();
    await next.start();
    // Sent the moment the new process listens: it follows the ones it missed.
    fake.userMessage({ author: alice, content: 'live one' });
    await fake.waitFor(() => texts(dm).length === 4 && texts(ch).length === 2, 10_000);
    await fake.idle();
    await next.settled();
    expect(texts(dm)).toEqual(['Echo: hello', 'Echo: are you there?', 'Echo: hello again', 'Echo: live one']);
    expect(texts(ch)).toEqual(['Echo: bob: hi all', 'Echo: bob: anyone?']);
    // The reads went through the budget with the posts, so the bot-wide window (shared by the
    // instances) counts them: one page per channel, and the DM channel looked up first.
    const since = fake.calls.slice(before);
    const reads = since.filter((c) => c.method === 'GET' && /^\/channels\/\d+(\/messages)?$/.test(c.path));
    const posts = since.filter((c) => (c.method === 'POST' || c.method === 'PATCH') && /^\/channels\/\d+\/messages(\/\d+)?$/.test(c.path));
    expect(reads.filter((c) => c.path.endsWith('/messages'))).toHaveLength(2);
    expect(next.status().sent).toBe(reads.length + posts.length);
  });

  it('are answered in a server channel or thread never talked in, when it had messages after the newest one handled', async () => {
    s = await startDiscord({ catchUp: true, fake: { shards: { identifyWindowMs: 1 } } });
    const { fake, texts, idle } = s;
    const ch = fake.guild.channelId;
    const thread = fake.guild.threadId;
    const other = fake.addGuild();
    // Chatter before the newest handled message: that channel's history is not read.
    fake.userMessage({ author: bob, channelId: ch, content: 'morning all' });
    const first = fake.userMessage({ author: alice, content: 'hello' });
    await fake.waitFor(() => texts(first.channel_id).length === 1);
    await idle();

    await s.adapter.stop();
    fake.userMessage({ author: bob, channelId: thread, content: 'can you summarise this thread?', mentionsBot: true });
    fake.userMessage({ author: bob, channelId: other.channelId, content: 'nothing for the bot here' });

    const before = fake.calls.length;
    next = s.newAdapter();
    await next.start();
    await fake.waitFor(() => texts(thread).length === 1, 10_000);
    await fake.idle();
    await next.settled();
    expect(texts(thread)).toEqual(['Echo: bob: can you summarise this thread?']);
    expect(texts(other.channelId)).toEqual([]);
    expect(texts(ch)).toEqual([]);
    const read = fake.calls
      .slice(before)
      .filter((c) => c.method === 'GET' && c.path.endsWith('/messages'))
      .map((c) => c.path.split('/')[2]);
    // The DM as a recent chat; the thread and the other server's channel as active during the gap.
    expect(read.sort()).toEqual([first.channel_id, thread, other.channelId].sort());
  });

  it('in a server channel never talked in are answered by the start after one that stopped while still reading back', async () => {
    s = await startDiscord({ catchUp: true, fake: { shards: { identifyWindowMs: 1 } } });
    const { fake, texts } = s;
    const { dm, ch } = await firstMessageMissed(s);
    // Only a session whose socket the fake has heard close can lapse, and the stop resolves on the
    // client's close, which can come first: wait until the fake has heard it too.
    await fake.waitFor(() => fake.gatewayStats().liveSockets === 0);
    // Down for longer than Discord keeps a session: nothing is replayed, only read back.
    expect(fake.lapseDisconnectedSessions()).toBe(1);

    // The next start reads the DM back and answers it, but stops before it could read the channel:
    // the newest message handled is now past the channel's.
    fake.force429Next({ method: 'GET', path: `/channels/${ch}/messages`, retryAfterMs: 3000 });
    const stopping = s.newAdapter({ tuning: { stopTimeoutMs: 100 } });
    await stopping.start();
    await fake.waitFor(() => texts(dm).length === 2, 10_000);
    await stopping.stop();
    expect(texts(ch)).toEqual([]);

    next = s.newAdapter();
    await next.start();
    await fake.waitFor(() => texts(ch).length === 1, 10_000);
    await fake.idle();
    await next.settled();
    expect(texts(ch)).toEqual(['Echo: bob: anyone?']);
    expect(texts(dm)).toEqual(['Echo: hello', 'Echo: are you there?']);
  });

  it('include a first message that arrives while the start is still planning what to read', async () => {
    // The conversations are slow to answer: the gateway is up and a message arrives before they do.
    let planning: DiscordAdapter | undefined;
    s = await startDiscord({
      fake: { shards: { identifyWindowMs: 1 } },
      catchUp: (recentChats) => async (platform, withinMs) => {
        if (planning) {
          await s!.fake.waitFor(() => s!.fake.identifies().length === 2);
          s!.fake.userMessage({ author: carol, content: 'first time here' });
          await s!.fake.waitFor(() => planning!.status().lastEventAt !== null);
        }
        return recentChats(platform, withinMs);
      },
    });
    const { fake, texts } = s;
    const m = fake.userMessage({ author: alice, content: 'hello' });
    await fake.waitFor(() => texts(m.channel_id).length === 1);
    await s.adapter.stop();

    next = planning = s.newAdapter();
    await next.start();
    const dm = fake.userMessage({ author: carol, content: 'still there?' }).channel_id as string;
    await fake.waitFor(() => texts(dm).length === 2, 10_000);
    expect(texts(dm)).toEqual(['Echo: first time here', 'Echo: still there?']);
  });

  it('include a first DM from someone the bot never talked with: the next start has Discord replay the last session', async () => {
    const stopped = await answeredThenStopped();
    const { fake, texts } = stopped;
    // The session was left resumable, so Discord keeps what it is sent meanwhile.
    expect(closeCodes(fake)).toEqual([4200]);
    const dm = fake.userMessage({ author: carol, content: 'hi, first time here' }).channel_id as string;
    fake.userMessage({ author: carol, content: 'anyone home?' });

    next = stopped.newAdapter();
    await next.start();
    fake.userMessage({ author: carol, content: 'live now' });
    await fake.waitFor(() => texts(dm).length === 3, 10_000);
    await fake.idle();
    await next.settled();
    expect(texts(dm)).toEqual(['Echo: hi, first time here', 'Echo: anyone home?', 'Echo: live now']);
    // The old session was resumed on a connection of its own and ended (1000) once replayed.
    const resumes = fake.gatewayLog.filter((e) => e.dir === 'in' && e.op === 6);
    expect(resumes).toHaveLength(1);
    await fake.waitFor(() => closeCodes(fake).length === 2);
    expect(closeCodes(fake)).toEqual([4200, 1000]);
  });

  it('include a first DM replayed to a start that died before it was on disk: the start after it reads that DM back', async () => {
    const stopped = await answeredThenStopped();
    const { fake, texts } = stopped;
    const dm = fake.userMessage({ author: carol, content: 'hi, first time here' }).channel_id as string;

    // The next start has the session replayed (which ends it), notes its own, reads the DM back and
    // hands it on, but dies before the message is on disk.
    const neverOnDisk: MessageHandler = {
      handle: () => Object.assign((async function* () { await new Promise(() => undefined); })(), { accepted: new Promise<void>(() => undefined) }),
    };
    const dying = stopped.newAdapter({ handler: neverOnDisk, tuning: { stopTimeoutMs: 100 } });
    await dying.start();
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'GET' && c.path.includes(dm)), 10_000);
    await dying.stop();
    expect(texts(dm)).toEqual([]);

    next = stopped.newAdapter();
    await next.start();
    await fake.waitFor(() => texts(dm).length === 1, 10_000);
    await fake.idle();
    await next.settled();
    expect(texts(dm)).toEqual(['Echo: hi, first time here']);
  });

  it('are answered by a start made while the database cannot be reached, once it answers, before the live messages that came meanwhile', async () => {
    let down = false;
    let refused = 0;
    s = await startDiscord({ catchUp: true, storeDown: () => down && ++refused > 0, fake: { shards: { identifyWindowMs: 1 } } });
    const { fake, texts } = s;
    const dm = fake.userMessage({ author: alice, content: 'hello' }).channel_id as string;
    await fake.waitFor(() => texts(dm).length === 1);
    await s.idle();
    await s.adapter.stop();
    // The fake hears the socket close a moment after the client does: wait until it has, so the
    // live socket waited for below is the next process's.
    await fake.waitFor(() => fake.gatewayStats().liveSockets === 0);
    // While no process listens: a DM in a chat the bot had (read back), and a first DM (replayed).
    fake.userMessage({ author: alice, content: 'are you there?' });
    const first = fake.userMessage({ author: carol, content: 'hi, first time here' }).channel_id as string;

    // The next process starts while the database is away: it connects, and its live messages wait
    // (the database is refused to it a few times over, half a second apart, before it is back).
    down = true;
    next = s.newAdapter();
    const starting = next.start();
    await fake.waitFor(() => fake.gatewayStats().liveSockets > 0, 10_000);
    fake.userMessage({ author: alice, content: 'live one' });
    fake.userMessage({ author: carol, content: 'live too' });
    await fake.waitFor(() => refused >= 4, 10_000);
    expect(texts(dm)).toEqual(['Echo: hello']);
    expect(texts(first)).toEqual([]);
    down = false;
    await starting;
    await fake.waitFor(() => texts(dm).length === 3 && texts(first).length === 2, 10_000);
    await fake.idle();
    await next.settled();
    expect(texts(dm)).toEqual(['Echo: hello', 'Echo: are you there?', 'Echo: live one']);
    expect(texts(first)).toEqual(['Echo: hi, first time here', 'Echo: live too']);
  });

  it('are not read back on a first start, or where nothing was handled lately', async () => {
    // Identifies barely limited: two starts in a row (one too soon waits out op 9 for seconds).
    s = await startDiscord({ catchUp: true, fake: { shards: { identifyWindowMs: 1 } } });
    const { fake, texts } = s;
    const reads = () => fake.calls.filter((c) => c.method === 'GET' && /^\/channels\/\d+\/messages$/.test(c.path)).length;
    expect(reads()).toBe(0);
    const m = fake.userMessage({ author: alice, content: 'hello' });
    await fake.waitFor(() => texts(m.channel_id).length === 1);
    await s.adapter.stop();
    fake.userMessage({ author: bob, channelId: s.fake.guild.channelId, content: 'too late', mentionsBot: true });
    // A day later (the default reach), nothing recent is left to read back, and Discord has long
    // forgotten the session the stop left resumable.
    (s.h.clock as ManualClock).advance(25 * 3_600_000);
    s.fake.invalidateSession(false);
    next = s.newAdapter();
    await next.start();
    await next.settled();
    expect(reads()).toBe(0);
  });
});
