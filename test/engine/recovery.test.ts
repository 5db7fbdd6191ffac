import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { encodeKey } from '../../src/core/conversation-key.js';
import { dropOnce, outage } from '../helpers/dropped-connection.js';
import type { InboundMessage, ReplyEvent } from '../../src/core/types.js';
import type { ChatOrder, UnfinishedMessages } from '../../src/engine/limits.js';
import { inbound, startHarness, testEngineConfig, type Harness } from '../helpers/harness.js';

const open: Harness[] = [];
let dir: string | undefined;
afterEach(async () => {
  while (open.length) await open.pop()!.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Process A, whose model never answers (it dies while the model is still thinking), and how to start B on its database. */
async function dyingProcess() {
  dir = mkdtempSync(join(tmpdir(), 'cb-recover-'));
  const clock = new ManualClock();
  const dbPath = join(dir, 'db.sqlite');
  const a = await startHarness({ clock, dbPath, maxRetries: 0 });
  open.push(a);
  a.fake.slowFirstToken(60_000);
  const next = async () => {
    const b = await startHarness({ clock, dbPath, maxRetries: 0 });
    open.push(b);
    return b;
  };
  return { clock, a, next };
}

/** The chat's other unfinished messages as a rebuilt line asks for them around `msg`: each event id, and whether it came after `msg`. */
async function aroundOf(h: Harness, clock: ManualClock, msg: InboundMessage) {
  const now = clock.now();
  const found = await h.store.events.unfinishedInChat({
    chatKey: encodeKey({ platform: msg.platform, chatId: msg.chatId }),
    own: { platform: msg.platform, eventId: msg.eventId },
    now, since: now - 60_000, deadAfterMs: 60_000, leaseMs: 60_000, limit: 10,
  });
  return found.map((e) => [e.eventId, e.afterOwn]);
}

describe('a crash never loses an accepted message', () => {
  it('answers, after a restart, a message the dead process had accepted but not answered — once', async () => {
    // Process A accepts the message, stores it, and dies while the model is still thinking.
    const { clock, a, next } = await dyingProcess();
    const msg = inbound({ text: 'are you still there?' });
    const out = a.engine.handle(msg);
    await out.accepted;
    await expect.poll(() => a.fake.requests.length).toBe(1); // the user message is stored, the model was called

    // Process B starts on the same database after A's lease ran out.
    const b = await next();
    expect(await b.engine.recover(async () => {})).toBe(0); // A's claim is still leased: hands off
    clock.advance(testEngineConfig().eventLeaseMs + 1);
    const delivered: Array<{ msg: InboundMessage; events: ReplyEvent[] }> = [];
    expect(await b.engine.recover(async (m, events) => void delivered.push({ msg: m, events }))).toBe(1);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.msg.chatId).toBe(msg.chatId);
    expect(delivered[0]!.events.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: are you still there?' } });

    const conv = (await b.store.conversations.getByScope('telegram:1'))!;
    const stored = await b.store.messages.newest(conv.id, { limit: 10 });
    expect(stored.map((m) => [m.role, m.content])).toEqual([
      ['assistant', 'Echo: are you still there?'],
      ['user', 'are you still there?'], // reused, not stored a second time
    ]);
    // Done now: neither another recovery nor a late redelivery answers it again.
    clock.advance(testEngineConfig().eventLeaseMs + 1);
    expect(await b.engine.recover(async () => {})).toBe(0);
    expect(await b.engine.handle({ ...msg }).collect()).toEqual([]);
    await a.fake.close(); // the dead process's model call ends, so its harness can close quickly
  });

  it("answers a dead process's chats side by side, each chat's messages in the order they came", async () => {
    const { clock, a, next } = await dyingProcess();
    const sent = [inbound({ chatId: '1', userId: '1', text: 'first in one' }), inbound({ chatId: '1', userId: '1', text: 'second in one' }), inbound({ chatId: '2', userId: '2', text: 'only in two' })];
    for (const m of sent) await a.engine.handle(m).accepted;

    const b = await next();
    clock.advance(testEngineConfig().eventLeaseMs + 1);
    // Chat 1's first send is slow (paced, say) and lasts until chat 2's has begun: answered one
    // chat after another, this recovery would never finish.
    let twoStarted!: () => void;
    const chatTwo = new Promise<void>((r) => (twoStarted = r));
    const order: string[] = [];
    const recovered = await b.engine.recover(async (m, events) => {
      const text = (events.find((e) => e.type === 'done') as { message: { content: string } }).message.content;
      if (m.chatId === '2') twoStarted();
      if (text === 'Echo: first in one') await chatTwo;
      order.push(text);
    });
    expect(recovered).toBe(3);
    expect(order.filter((t) => t.includes('in one'))).toEqual(['Echo: first in one', 'Echo: second in one']);
    expect(order).toContain('Echo: only in two');
    await a.fake.close();
  });

  it('records messages handled in the same millisecond as arriving in the order they came, so a rebuilt line finds the first before the second', async () => {
    const { clock, a } = await dyingProcess();
    const first = inbound({ chatId: '7', userId: '7', text: 'first of a batch' });
    const second = inbound({ chatId: '7', userId: '7', text: 'second of a batch' });
    const outs = [a.engine.handle(first), a.engine.handle(second)]; // one platform batch: the clock does not move
    await Promise.all(outs.map((o) => o.accepted));
    expect(await aroundOf(a, clock, second)).toEqual([[first.eventId, false]]);
    await a.fake.close();
  });

  it('keeps the arrival of a message whose first claim failed, so a message that came while it was tried again is not counted as before it', async () => {
    const { clock, a } = await dyingProcess();
    const first = inbound({ chatId: '9', userId: '9', text: 'first, claimed on the second try' });
    const second = inbound({ chatId: '9', userId: '9', text: 'second, claimed at once' });
    const drop = dropOnce(a.store.events, 'claimOutcome', { only: (c: { eventId: string }) => c.eventId === first.eventId });
    const outs = [a.engine.handle(first), a.engine.handle(second)];
    await Promise.all(outs.map((o) => o.accepted));
    expect(drop.hasDropped()).toBe(true);
    expect(await aroundOf(a, clock, second)).toEqual([[first.eventId, false]]);
    await a.fake.close();
  });

  it("counts a batch's later message as after the first even when its claim lands first, as a fresh chat line's first turn asks", async () => {
    // The line that Redis lost: only what the engine gives it to ask the database with matters here.
    let lookup: UnfinishedMessages | undefined;
    const arrivals = new Map<string, number | undefined>();
    const place = { wait: async () => {}, leave: async () => {}, waitToSend: async () => {}, sent: async () => {}, abandon: () => {} };
    const chatOrder: ChatOrder = { rebuildFrom: (u) => void (lookup = u), enter: async (_key, eventKey, arrivedAt) => (arrivals.set(eventKey!, arrivedAt), place), adopt: async () => undefined };
    const clock = new ManualClock();
    const h = await startHarness({ chatOrder, clock });
    open.push(h);
    const first = inbound({ chatId: '8', userId: '8', text: 'first of a batch' });
    const second = inbound({ chatId: '8', userId: '8', text: 'second of a batch' });
    // The first message's claim is slow to land (a busy database); the second's lands at once.
    const claimOutcome = h.store.events.claimOutcome.bind(h.store.events);
    let land!: () => void;
    const landing = new Promise<void>((r) => (land = r));
    h.store.events.claimOutcome = async (c) => (c.eventId === first.eventId && (await landing), claimOutcome(c));
    const outs = [h.engine.handle(first), h.engine.handle(second)];
    await outs[1]!.accepted;
    clock.advance(5); // the line's first turn asks a few milliseconds after the batch arrived
    const own = `telegram:${first.eventId}`;
    const found = await lookup!(encodeKey({ platform: 'telegram', chatId: '8' }), { ownEventKey: own, ownArrivedAt: arrivals.get(own), withinMs: 60_000, limit: 10 });
    expect(found).toEqual([{ eventKey: `telegram:${second.eventId}`, ownerGone: false, afterOwn: true }]);
    land();
    await outs[0]!.accepted;
    await Promise.all(outs.map((o) => o.collect()));
  });

  it('lets the next recovery run while a slow delivery still waits, keeping each chat in order and answering nothing twice', async () => {
    const { clock, a, next } = await dyingProcess();
    for (const text of ['slow one', 'slow two']) await a.engine.handle(inbound({ chatId: '1', userId: '1', text })).accepted;
    const b = await next();
    clock.advance(testEngineConfig().eventLeaseMs + 1);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const delivered: string[] = [];
    const deliver = async (m: InboundMessage, events: ReplyEvent[]) => {
      if (m.chatId === '1') await held; // a platform's rate limit, say
      delivered.push((events.find((e) => e.type === 'done') as { message: { content: string } }).message.content);
    };
    const slow = b.engine.recover(deliver);
    await expect.poll(() => b.fake.requests.length).toBe(2); // B has taken both over and answered them

    // Meanwhile another chat's message is left behind: the next sweep answers it at once, and
    // leaves chat 1's second message to the sweep that has it, behind its first.
    await a.engine.handle(inbound({ chatId: '2', userId: '2', text: 'fast' })).accepted;
    clock.advance(testEngineConfig().eventLeaseMs + 1);
    expect(await b.engine.recover(deliver)).toBe(1);
    expect(delivered).toEqual(['Echo: fast']);

    release();
    expect(await slow).toBe(2);
    expect(delivered).toEqual(['Echo: fast', 'Echo: slow one', 'Echo: slow two']);
    await a.fake.close();
  });

  it("holds a chat's newer reply until the recovered reply before it went out", async () => {
    // One process again, restarted: a webhook delivers the chat's next message as soon as it
    // listens, while the recovered reply still waits (for its adapter to start, say).
    const { clock, a, next } = await dyingProcess();
    await a.engine.handle(inbound({ chatId: '1', userId: '1', text: 'before the crash' })).accepted;
    const b = await next();
    clock.advance(testEngineConfig().eventLeaseMs + 1);
    let release!: () => void;
    const adapterUp = new Promise<void>((r) => (release = r));
    const shown: string[] = [];
    const recovering = b.engine.recover(async (_m, events) => {
      await adapterUp;
      shown.push((events.find((e) => e.type === 'done') as { message: { content: string } }).message.content);
    });
    await expect.poll(() => b.fake.requests.length).toBe(1);
    const newer = b.engine.handle(inbound({ chatId: '1', userId: '1', text: 'after the restart' }));
    const answered = (async () => {
      const events = await newer.collect();
      shown.push((events.find((e) => e.type === 'done') as { message: { content: string } }).message.content);
    })();
    await expect.poll(() => b.fake.requests.length).toBe(2); // its turn runs meanwhile
    await new Promise((r) => setTimeout(r, 100));
    expect(shown).toEqual([]); // but its reply waits
    release();
    await Promise.all([recovering, answered]);
    expect(shown).toEqual(['Echo: before the crash', 'Echo: after the restart']);
    await a.fake.close();
  });

  it('answers, by the next sweep and without an apology, a message whose turn the database dropped under', async () => {
    const h = await startHarness();
    open.push(h);
    // The reply's write fails as a PostgreSQL restart fails it (the connection dropped under it).
    dropOnce(h.store.messages, 'append', { only: (m: { role: string }) => m.role === 'assistant' });
    const msg = inbound({ text: 'still with me?' });
    const first = await h.engine.handle(msg).collect();
    expect(first.filter((e) => e.type === 'notice')).toEqual([]);
    expect(first.find((e) => e.type === 'done')).toBeUndefined();

    // The same process's next sweep answers it: released, it counts as a dead owner's.
    const delivered: ReplyEvent[][] = [];
    expect(await h.engine.recover(async (_m, events) => void delivered.push(events))).toBe(1);
    expect(delivered[0]!.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: still with me?' } });
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    expect((await h.store.messages.newest(conv.id, { limit: 10 })).map((m) => [m.role, m.content])).toEqual([
      ['assistant', 'Echo: still with me?'],
      ['user', 'still with me?'],
    ]);
    // Answered once: neither another sweep nor a redelivery answers it again.
    expect(await h.engine.recover(async () => {})).toBe(0);
    expect(await h.engine.handle({ ...msg }).collect()).toEqual([]);
  });

  it('answers, without an apology, a message whose turn the database dropped under for longer than handing it to the sweep tries', async () => {
    const h = await startHarness();
    open.push(h);
    dropOnce(h.store.messages, 'append', { only: (m: { role: string }) => m.role === 'assistant' });
    const handing = outage(h.store.events, 'release');
    const msg = inbound({ text: 'are you back?' });
    const first = await h.engine.handle(msg).collect();
    expect(first.filter((e) => e.type === 'notice')).toEqual([]);
    expect(handing.calls()).toBe(5);
    expect(await h.engine.recover(async () => {})).toBe(0); // still down: nothing to answer yet

    handing.end();
    const delivered: ReplyEvent[][] = [];
    expect(await h.engine.recover(async (_m, events) => void delivered.push(events))).toBe(1);
    expect(delivered[0]!.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: are you back?' } });
    expect(await h.engine.recover(async () => {})).toBe(0);
    expect(await h.engine.handle({ ...msg }).collect()).toEqual([]);
  }, 15_000);

  it('marks a delivered message answered as soon as the database is back, though it was down longer than the quick tries, so no later start sends its reply again', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cb-recover-'));
    const clock = new ManualClock();
    const dbPath = join(dir, 'db.sqlite');
    const h = await startHarness({ clock, dbPath });
    open.push(h);
    // The database goes down as the reply is delivered, for longer than marking it answered tries.
    const marking = outage(h.store.events, 'complete');
    const msg = inbound({ text: 'one answer, please' });
    const events = await h.engine.handle(msg).collect();
    expect(events.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: one answer, please' } });
    await expect.poll(() => marking.calls(), { timeout: 10_000 }).toBe(5);
    expect(await h.store.events.state(msg.platform, msg.eventId)).toBe('processing');
    // Meanwhile a redelivery is still a duplicate.
    expect(await h.engine.handle({ ...msg }).collect()).toEqual([]);

    // Back: the heartbeat's sweep marks it, and answers nothing.
    marking.end();
    const delivered: ReplyEvent[][] = [];
    expect(await h.engine.recover(async (_m, e) => void delivered.push(e))).toBe(0);
    expect(await h.store.events.state(msg.platform, msg.eventId)).toBe('done');
    // This process stops (its claims now count as a dead one's): a later start finds nothing to answer.
    const later = await startHarness({ clock, dbPath });
    open.push(later);
    clock.advance(testEngineConfig().deadAfterMs + 1);
    expect(await later.engine.recover(async (_m, e) => void delivered.push(e))).toBe(0);
    expect(delivered).toEqual([]);
  }, 15_000);

  it('answers a message whose claim landed as the connection dropped, instead of taking its own claim for a duplicate', async () => {
    const h = await startHarness();
    open.push(h);
    // The insert commits, and the connection drops before its answer comes back (a PostgreSQL crash).
    const claim = dropOnce(h.store.events, 'claimOutcome', { landed: true });
    const msg = inbound({ text: 'did that land?' });
    const events = await h.engine.handle(msg).collect();
    expect(events.find((e) => e.type === 'done')).toMatchObject({ message: { content: 'Echo: did that land?' } });
    expect(claim.calls()).toBe(2); // the claim was tried again
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    expect((await h.store.messages.newest(conv.id, { limit: 10 })).map((m) => m.role)).toEqual(['assistant', 'user']);
    await expect.poll(() => h.store.events.state(msg.platform, msg.eventId)).toBe('done');
    // Still answered once: a redelivery is a duplicate.
    expect(await h.engine.handle({ ...msg }).collect()).toEqual([]);
    expect(h.fake.requests).toHaveLength(1);
  });

  it('resolves `accepted` for duplicates and bot messages too, so adapters never wait forever', async () => {
    const h = await startHarness();
    open.push(h);
    const msg = inbound({ text: 'once' });
    await h.engine.handle(msg).collect();
    const dup = h.engine.handle({ ...msg });
    await dup.accepted;
    expect(await dup.collect()).toEqual([]);
    await h.engine.handle(inbound({ fromBot: true })).accepted;
  });
});
