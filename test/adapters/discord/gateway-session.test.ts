/**
 * The note a process keeps of its gateway session says up to which sequence its messages are
 * safely with the engine: never past a message still on its way, so a crash has Discord replay
 * it rather than skip it.
 */
import { describe, expect, it } from 'vitest';
import { GatewaySessions } from '../../../adapters/discord/gateway-session.js';
import { testLogger } from '../../helpers/harness.js';

/** One process's notes over `notes` (the database every process of the bot shares); `shared`: instances share its shards. */
function setup(
  notes = new Map<string, string>(),
  clock = { now: 1_000_000 },
  name = 'sess',
  shared?: { staleMs: number; down?: () => boolean; stallMs?: () => number; sleep?: (ms: number) => Promise<void> },
  downtime?: () => number,
) {
  const sessions = new GatewaySessions(
    {
      put: async (k, v) => {
        if (shared?.down?.()) throw new Error('the database is down');
        clock.now += shared?.stallMs?.() ?? 0; // the write waits out an outage, then lands
        notes.set(k, v);
      },
      get: async (k) => notes.get(k),
      list: async (prefix) => [...notes].filter(([k]) => k.startsWith(prefix)).sort().map(([key, value]) => ({ key, value })),
      forget: async (k) => void notes.delete(k),
    },
    'bot1',
    {
      log: testLogger(),
      now: () => clock.now,
      saveEveryMs: shared ? 2000 : 60_000,
      ...(shared ? { shared: { staleMs: shared.staleMs } } : {}),
      ...(shared?.sleep ? { sleep: shared.sleep } : {}),
      ...(downtime ? { downtime } : {}),
    },
  );
  const ready = (shard: number, s: number) => sessions.dispatched(shard, { t: 'READY', s, d: { session_id: `${name}-${shard}`, resume_gateway_url: 'wss://gateway.test' } });
  const message = (shard: number, s: number, id: string) => sessions.dispatched(shard, { t: 'MESSAGE_CREATE', s, d: { id, channel_id: 'c1' } });
  return { sessions, ready, message, notes, clock, advance: (ms: number) => (clock.now += ms), now: () => clock.now };
}

describe('gateway session notes', () => {
  it('note each shard behind its oldest message not yet with the engine, and at its newest event once all are', async () => {
    const { sessions, ready, message, now } = setup();
    ready(0, 1);
    ready(1, 1);
    message(0, 2, 'm2');
    message(0, 3, 'm3');
    sessions.dispatched(0, { t: 'TYPING_START', s: 4, d: {} });
    message(1, 2, 'n2');
    sessions.settled('m3'); // answered out of order: m2 still holds the note back
    sessions.settled('n2');
    await sessions.stop();
    expect(await sessions.stored([0, 1, 2], now() - 1)).toEqual([
      { shard: 0, sessionId: 'sess-0', resumeUrl: 'wss://gateway.test', seq: 1, unread: [] },
      { shard: 1, sessionId: 'sess-1', resumeUrl: 'wss://gateway.test', seq: 2, unread: [] },
    ]);

    sessions.settled('m2');
    await sessions.stop();
    expect((await sessions.stored([0], now() - 1))[0]?.seq).toBe(4);
  });

  it('stop holding the note back for a message that never reached the engine after a minute, and skip notes older than asked', async () => {
    const { sessions, ready, message, advance, now } = setup();
    ready(0, 1);
    message(0, 2, 'lost-in-discordjs');
    await sessions.stop();
    expect((await sessions.stored([0], now() - 1))[0]?.seq).toBe(1);
    advance(61_000);
    await sessions.stop();
    expect((await sessions.stored([0], now() - 1))[0]?.seq).toBe(2);
    expect(await sessions.stored([0], now() + 1)).toEqual([]);
  });

  it('keep holding the note back for a message whose claim waits out a database outage, counting only the time the database answered', async () => {
    let away = 0;
    const { sessions, ready, message, advance } = setup(undefined, undefined, 'sess', undefined, () => away);
    ready(0, 1);
    message(0, 2, 'claim-waits');
    // The database is away for 90 s: the claim waits, and the message is still on its way.
    advance(90_000);
    away += 90_000;
    await sessions.stop();
    expect((await sessions.stored([0], 0))[0]?.seq).toBe(1);
    // Then 59 s with the database back: still under the minute.
    advance(59_000);
    await sessions.stop();
    expect((await sessions.stored([0], 0))[0]?.seq).toBe(1);
    advance(2_000);
    await sessions.stop();
    expect((await sessions.stored([0], 0))[0]?.seq).toBe(2);
  });

  it('never note over a process started later (a rolling deploy), while a later start takes the note over', async () => {
    const old = setup(undefined, undefined, 'old');
    old.ready(0, 1);
    await old.sessions.stop();
    old.advance(1000);
    // The new process starts while the old one still runs the same shard, and notes its session.
    const next = setup(old.notes, old.clock, 'new');
    next.ready(0, 1);
    next.sessions.dispatched(0, { t: 'TYPING_START', s: 2, d: {} });
    await next.sessions.stop();
    // The old one goes on, then stops: its notes no longer replace the new one's.
    old.sessions.dispatched(0, { t: 'TYPING_START', s: 7, d: {} });
    old.advance(1000);
    await old.sessions.stop();
    expect(await next.sessions.stored([0], 0)).toEqual([{ shard: 0, sessionId: 'new-0', resumeUrl: 'wss://gateway.test', seq: 2, unread: [] }]);
    // The new one crashes; the process after it notes its own session over it.
    old.advance(1000);
    const after = setup(old.notes, old.clock, 'after');
    after.ready(0, 1);
    await after.sessions.stop();
    expect((await after.sessions.stored([0], 0))[0]?.sessionId).toBe('after-0');
  });

  it("carry the channels replayed to this start until each is read back and its messages are with the engine, and keep what the previous start had not read", async () => {
    const { sessions, ready, notes, clock, now } = setup();
    ready(0, 1);
    sessions.carry(0, [
      { channelId: 'dm-1', messageId: '1010' },
      { channelId: 'dm-1', messageId: '1005' },
      { channelId: 'dm-2', messageId: '2000' },
    ], [{ channelId: 'dm-3', after: '2999', at: now() - 5000 }]);
    await sessions.stop();
    const carried = async () => (await sessions.stored([0], 0))[0]?.unread.map((u) => [u.channelId, u.after]);
    expect(await carried()).toEqual([['dm-3', '2999'], ['dm-1', '1004'], ['dm-2', '1999']]);
    sessions.reading('dm-1', ['1005', '1010']);
    sessions.reading('dm-3', []); // read back, nothing there any more
    sessions.settled('1005');
    await sessions.stop();
    expect(await carried()).toEqual([['dm-1', '1004'], ['dm-2', '1999']]);
    const replayedAt = now();
    clock.now += 3000;
    sessions.settled('1010');
    await sessions.stop();
    expect(await carried()).toEqual([['dm-2', '1999']]);
    // The next start finds it in the note, with when it was first replayed; older than asked, it is dropped.
    clock.now += 1000;
    const after = setup(notes, clock, 'after');
    expect((await after.sessions.stored([0], 0))[0]?.unread).toEqual([{ channelId: 'dm-2', after: '1999', at: replayedAt }]);
    expect((await after.sessions.stored([0], replayedAt + 1))[0]?.unread).toEqual([]);
  });

  it('with shared shards, each process notes its own session, and another judges it abandoned only after watching it silent while its own notes landed', async () => {
    const notes = new Map<string, string>();
    const clock = { now: 1_000_000 };
    let down = false;
    let stallMs = 0;
    const a = setup(notes, clock, 'a', { staleMs: 10_000, down: () => down, stallMs: () => stallMs });
    const b = setup(notes, clock, 'b', { staleMs: 10_000 });
    a.ready(0, 1);
    b.ready(0, 1);
    await a.sessions.stop();
    await b.sessions.stop();
    expect(notes.size).toBe(2); // one note per process, neither over the other
    expect(await a.sessions.abandoned([0], 0)).toEqual([]);

    // b dies; a keeps noting. a first saw b's note at 0 s: silent for less than 10 s, not yet.
    const beat = async (ms: number) => {
      clock.now += ms;
      await a.sessions.stop();
      return (await a.sessions.abandoned([0], 0)).map((n) => n.sessionId);
    };
    expect(await beat(6000)).toEqual([]);
    expect(await beat(3000)).toEqual([]);
    expect(await beat(2000)).toEqual(['b-0']);
    const found = await a.sessions.abandoned([0], 0);
    // Its replay failed: it is tried again a minute later, not at every look.
    a.sessions.retryLater(found[0]!.key);
    expect(await beat(59_000)).toEqual([]);
    expect(await beat(1000)).toEqual(['b-0']);

    // A new process c notes once; then the database goes away: a's notes stop landing, and it
    // judges no one, though every note is silent, c's too.
    const c = setup(notes, clock, 'c', { staleMs: 10_000 });
    c.ready(0, 1);
    await c.sessions.stop();
    down = true;
    expect(await beat(2000)).toEqual([]);
    expect(await beat(12_000)).toEqual([]);
    // Back: a watches a whole silence again before judging; meanwhile c's notes resume, so only b is abandoned.
    down = false;
    expect(await beat(1000)).toEqual([]);
    await c.sessions.stop();
    expect(await beat(6000)).toEqual([]);
    expect(await beat(5000)).toEqual(['b-0']);

    // The database holds writes up for 15 s (an outage waited out, not failed): c's note did
    // not change meanwhile, yet a judges no one (not even b) until it has written promptly for 10 s again.
    stallMs = 15_000;
    expect(await beat(1000)).toEqual([]);
    stallMs = 0;
    expect(await beat(2000)).toEqual([]);
    await c.sessions.stop();
    expect(await beat(9000)).toEqual([]);
    expect(await beat(2000)).toEqual(['b-0']);
    await a.sessions.forget(found[0]!.key);
    expect((await a.sessions.abandoned([0], 0)).map((n) => n.sessionId)).toEqual([]);
  });

  it("with shared shards, a start replays at once the notes of gone processes (three saves old by the clock, or unchanged while it watches until they are) that no live instance covers", async () => {
    const notes = new Map<string, string>();
    const clock = { now: 1_000_000 };
    const sleeps: number[] = [];
    let meanwhile: (() => Promise<void>) | undefined;
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      clock.now += ms;
      await meanwhile?.();
    };
    const starting = (name: string) => setup(notes, clock, name, { staleMs: 10_000, sleep }).sessions;
    /** A process that has noted its session (its shard's sequence at `seq`). */
    const noting = async (name: string, seq: number) => {
      const p = setup(notes, clock, name, { staleMs: 10_000 });
      p.ready(0, seq);
      await p.sessions.stop();
      return p.sessions;
    };
    await noting('gone', 5);
    clock.now += 6000;
    // Three saves (6 s) old: gone, without waiting.
    expect(await starting('a').abandonedAtStart([0], 0)).toEqual([{ key: expect.stringMatching(/^discord:gateway:bot1:0:p:/), shard: 0, sessionId: 'gone-0', resumeUrl: 'wss://gateway.test', seq: 5, unread: [] }]);
    expect(sleeps).toEqual([]);
    expect(await starting('b').abandonedAtStart([0], clock.now - 3000)).toEqual([]); // older than asked

    // A process that died a second ago: its note is watched until it is three saves old.
    await noting('recent', 2);
    clock.now += 1000;
    expect((await starting('c').abandonedAtStart([0], 0)).map((n) => n.sessionId).sort()).toEqual(['gone-0', 'recent-0']);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(5000);
    expect(Math.max(...sleeps)).toBe(500); // it looks again every half second

    // A live process notes while the start watches: a live instance heard what the gone ones did;
    // only the notes already three saves old are replayed now, the rest left to the watch.
    const live = await noting('live', 1);
    await noting('dying', 1);
    meanwhile = () => live.stop();
    sleeps.length = 0;
    expect((await starting('d').abandonedAtStart([0], 0)).map((n) => n.sessionId).sort()).toEqual(['gone-0', 'recent-0']);
    expect(sleeps).toEqual([500]);

    // Every instance was down; two start together. The other start's note changes, but it began
    // after the dead ones last noted: it heard nothing of the gap, so the dead are waited for and replayed.
    meanwhile = undefined;
    for (const k of [...notes.keys()]) notes.delete(k);
    await noting('dead', 3);
    clock.now += 2000;
    const twin = await noting('twin', 1);
    meanwhile = () => twin.stop();
    sleeps.length = 0;
    expect((await starting('e').abandonedAtStart([0], 0)).map((n) => n.sessionId)).toEqual(['dead-0']);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(4000); // until the dead note was three saves old

    // A process that died while a live one ran beside it, even long ago: the live one heard what
    // it did, and replays it itself (reading back only what it lacks); the start leaves it.
    for (const k of [...notes.keys()]) notes.delete(k);
    const elder = await noting('elder', 1);
    await noting('crashed', 1);
    clock.now += 8000;
    await elder.stop();
    meanwhile = () => elder.stop();
    expect(await starting('f').abandonedAtStart([0], 0)).toEqual([]);
  });
});
