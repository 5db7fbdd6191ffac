/**
 * Instances that run the same shards (a cluster without DISCORD_SHARDS) each hear every event,
 * so a message is lost only when every instance that heard it died before putting it on disk: a
 * first DM can then be found only in a gateway session of the dead. Each instance notes its own
 * session; a note that goes silent is replayed by a live instance, which answers what it finds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DiscordAdapter } from '../../../adapters/discord/index.js';
import type { MessageHandler } from '../../../src/core/adapter.js';
import { alice, bob, firstMessageMissed, startDiscord, type Setup } from './helpers.js';

const carol = { id: '511111111111111111', username: 'carol' };
/** Notes every 50 ms; a note silent for 300 ms is abandoned. */
const TUNING = { sessionSaveMs: 50, sessionStaleMs: 300 };

let s: Setup | undefined;
const others: DiscordAdapter[] = [];
afterEach(async () => {
  await Promise.allSettled(others.splice(0).map((a) => a.stop()));
  await s?.close();
  s = undefined;
});

/** A process that hears messages and dies before any is on disk. */
const neverOnDisk: MessageHandler = {
  handle: () => Object.assign((async function* () { await new Promise(() => undefined); })(), { accepted: new Promise<void>(() => undefined) }),
};

async function cluster(): Promise<Setup> {
  s = await startDiscord({ catchUp: true, sharedShards: true, tuning: TUNING, fake: { shards: { identifyWindowMs: 1 } } });
  const m = s.fake.userMessage({ author: alice, content: 'hello' });
  await s.fake.waitFor(() => s!.texts(m.channel_id).length === 1);
  await s.idle();
  return s;
}

const notes = (setup: Setup) => setup.h.store.sendMarks.list('discord:gateway:');
const resumes = (setup: Setup) => setup.fake.gatewayLog.filter((e) => e.dir === 'in' && e.op === 6).length;

describe('discord: instances sharing shards', () => {
  it("answer a first DM only a dead instance heard: a live one replays the dead one's session once its note goes silent", async () => {
    const setup = await cluster();
    const { fake, texts } = setup;
    const dying = setup.newAdapter({ handler: neverOnDisk, tuning: { stopTimeoutMs: 100 } });
    others.push(dying);
    await dying.start();
    await expect.poll(async () => (await notes(setup)).length, { timeout: 5000 }).toBe(2);
    // The first instance is down (a deploy, a crash): only the second hears the DM.
    await setup.adapter.stop();
    const dm = fake.userMessage({ author: carol, content: 'hi, first time here' }).channel_id as string;
    await fake.idle();
    // The first comes back while the second still lives: its start sees the second's note change
    // and replays nothing. Then the second dies before the DM is on disk.
    const before = resumes(setup);
    const back = setup.newAdapter();
    others.push(back);
    await back.start();
    expect(resumes(setup)).toBe(before);
    await dying.stop();
    expect(texts(dm)).toEqual([]);
    // It watches the dead one's note stay silent, replays that session and reads the DM back.
    await fake.waitFor(() => texts(dm).length === 1, 10_000);
    expect(resumes(setup)).toBeGreaterThan(before);
    fake.userMessage({ author: carol, content: 'live now' });
    await fake.waitFor(() => texts(dm).length === 2, 10_000);
    await fake.idle();
    await back.settled();
    expect(texts(dm)).toEqual(['Echo: hi, first time here', 'Echo: live now']);
    // The replayed notes are forgotten; the live instance's own is all that is left.
    await expect.poll(async () => (await notes(setup)).length, { timeout: 5000 }).toBe(1);
  });

  it("never replay a live instance's session: each answers nothing twice, and no session is resumed", async () => {
    const setup = await cluster();
    const { fake, texts } = setup;
    const peer = setup.newAdapter();
    others.push(peer);
    await peer.start();
    await expect.poll(async () => (await notes(setup)).length, { timeout: 5000 }).toBe(2);
    // Well past the silence that abandons a note, both still noting.
    await new Promise((r) => setTimeout(r, 4 * TUNING.sessionStaleMs));
    const dm = fake.userMessage({ author: carol, content: 'both of you there?' }).channel_id as string;
    await fake.waitFor(() => texts(dm).length === 1, 10_000);
    await fake.idle();
    await Promise.all([setup.adapter.settled(), peer.settled()]);
    expect(texts(dm)).toEqual(['Echo: both of you there?']);
    expect(resumes(setup)).toBe(0);
    expect(setup.adapter.status().connected && peer.status().connected).toBe(true);
  });

  it('at a start after every instance was down, replay their sessions first (their notes stay unchanged while it watches): the DMs sent meanwhile are answered before newer ones', async () => {
    const setup = await cluster();
    const { fake, texts } = setup;
    const second = setup.newAdapter();
    await second.start();
    await expect.poll(async () => (await notes(setup)).length, { timeout: 5000 }).toBe(2);
    await Promise.all([setup.adapter.stop(), second.stop()]);
    const dm = fake.userMessage({ author: carol, content: 'anyone home?' }).channel_id as string;
    const back = setup.newAdapter();
    others.push(back);
    await back.start();
    expect(resumes(setup)).toBe(2);
    fake.userMessage({ author: carol, content: 'live now' });
    await fake.waitFor(() => texts(dm).length === 2, 10_000);
    await fake.idle();
    await back.settled();
    expect(texts(dm)).toEqual(['Echo: anyone home?', 'Echo: live now']);
  });

  it("starting together after every instance was down, hold back a channel the other is still reading back: a first message there is answered before a live one", async () => {
    // The second start lists the recent chats only when told to (once the first has moved them).
    let beforePlan: (() => Promise<void>) | undefined;
    s = await startDiscord({
      catchUp: (recentChats) => async (platform, withinMs) => {
        const wait = beforePlan;
        beforePlan = undefined;
        await wait?.();
        return recentChats(platform, withinMs);
      },
      sharedShards: true,
      tuning: TUNING,
      fake: { shards: { identifyWindowMs: 1 } },
    });
    const { fake, texts } = s;
    const { dm, ch } = await firstMessageMissed(s);
    // The first instance back reads the DM back at once, and the channel only after a 429.
    fake.force429Next({ method: 'GET', path: `/channels/${ch}/messages`, retryAfterMs: 3000 });
    const first = s.newAdapter();
    others.push(first);
    await first.start();
    // The second lists the recent chats once the first has the DM's message on disk: the newest
    // message handled is then past the channel's, which the first has not read back yet.
    beforePlan = () => fake.waitFor(() => texts(dm).length === 2, 10_000);
    const second = s.newAdapter();
    others.push(second);
    await second.start();
    expect(texts(ch)).toEqual([]);
    fake.userMessage({ author: bob, channelId: ch, content: 'still there?', mentionsBot: true });
    await fake.waitFor(() => texts(ch).length === 2, 10_000);
    await fake.idle();
    await Promise.all([first.settled(), second.settled()]);
    expect(texts(ch)).toEqual(['Echo: bob: anyone?', 'Echo: bob: still there?']);
    expect(texts(dm)).toEqual(['Echo: hello', 'Echo: are you there?']);
    // Both have read back all they planned: their notes stop widening later starts' gaps.
    const gaps = async () => (await notes(s!)).map((n) => (JSON.parse(n.value) as { gap?: string }).gap ?? 'none');
    await expect.poll(gaps, { timeout: 5000 }).toEqual(['none', 'none']);
  });

  it("replay a session whose note went silent, reading back nothing this instance heard too (a hung instance's costs it a reconnect)", async () => {
    const setup = await cluster();
    const { fake, texts } = setup;
    // It notes once at its start, then hangs as far as its note tells.
    const peer = setup.newAdapter({ tuning: { sessionSaveMs: 60_000 } });
    others.push(peer);
    await peer.start();
    await expect.poll(async () => (await notes(setup)).length, { timeout: 5000 }).toBe(2);
    const dm = fake.userMessage({ author: carol, content: 'hello both' }).channel_id as string;
    await fake.waitFor(() => texts(dm).length === 1, 10_000);
    await fake.waitFor(() => resumes(setup) === 1, 5000);
    await expect.poll(async () => (await notes(setup)).length, { timeout: 5000 }).toBe(1);
    await fake.idle();
    await Promise.all([setup.adapter.settled(), peer.settled()]);
    // The replay held the DM, which the live instance had on disk: no read back.
    const reads = fake.calls.filter((c) => c.method === 'GET' && c.path === `/channels/${dm}/messages`);
    expect(reads).toEqual([]);
    expect(texts(dm)).toEqual(['Echo: hello both']);
  });
});
