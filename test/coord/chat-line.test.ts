/**
 * A chat's line shared by two instances through Redis. A platform turn leaves running once its
 * task ends, so the chat's next turn — on the other instance — runs while the earlier reply is
 * still being sent; but the next reply reaches its adapter only once the earlier one is delivered.
 * A reply never reported delivered holds the next one back for at most the longest hold; a turn
 * with nothing to deliver (an API or scheduled turn) holds nothing back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeyedSerialQueue } from '../../src/core/serial.js';
import { ReplyStream } from '../../src/engine/reply-stream.js';
import { inChatLine, platformPlace } from '../../src/engine/steps/serialize.js';
import { hasRedis } from '../helpers/services.js';
import { coordinationPairs } from '../helpers/coordinations.js';
import { CHAT, adapter, firstOwingThenSecond, firstThenSecond, handedOffTurn, lineAsking, noteRunning, replyingTurn } from './chat-line-world.js';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { dropped as dropped_ } from '../helpers/dropped-connection.js';
import { owedReply } from '../../src/engine/chat-claims.js';
import { startHarness } from '../helpers/harness.js';

describe.skipIf(!hasRedis())("a chat's line across instances", () => {
  const pairs = coordinationPairs(3000);
  afterEach(() => pairs.close());

  it("runs the next turn while the earlier reply is sent, and hands its reply over only after the earlier one's delivery", async () => {
    const [a, b] = await pairs.two();
    const { seen, first, second, out1, out2, lineA, lineB, sending1, sending2 } = await firstThenSecond(a, b);
    const turn = (name: string, out: ReplyStream) => async () => {
      seen.push(`${name} runs`);
      out.push({ type: 'delta', text: `${name} reply` });
      out.end();
    };
    await lineA(CHAT, turn('first', out1), { ticket: first, out: out1 });
    await lineB(CHAT, turn('second', out2), { ticket: second, out: out2 });
    // The second turn has run, on the other instance, while the first reply is not delivered yet;
    // give its reply the chance to reach its adapter early, then deliver the first.
    await new Promise((r) => setTimeout(r, 300));
    sending1.deliver();
    sending2.deliver();
    await Promise.all([sending1.read, sending2.read]);
    const at = (what: string) => seen.indexOf(what);
    expect(at('second runs')).toBeGreaterThan(at('first runs'));
    expect(at('second runs')).toBeLessThan(at('first reply delivered')); // the turns overlap
    expect(at('second reply reaches its adapter')).toBeGreaterThan(at('first reply delivered')); // the replies do not
    expect(seen).toHaveLength(6);
  });

  it('holds nothing back after a turn with no reply to deliver', async () => {
    const [a, b] = await pairs.two();
    const lineA = inChatLine(new KeyedSerialQueue(), a.chatOrder);
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder);
    const seen: string[] = [];
    await lineA(CHAT, async () => void seen.push('api turn runs'));
    const sending = await replyingTurn(lineB, { ticket: b.chatOrder!.enter(CHAT) }, seen, 'next');
    sending.deliver();
    await sending.read;
    expect(seen).toEqual(['api turn runs', 'next reply reaches its adapter', 'next reply delivered']);
  });

  it('lets the next reply go after the longest hold when an earlier one is never delivered', async () => {
    const [a, b] = await pairs.two();
    const lineA = inChatLine(new KeyedSerialQueue(), a.chatOrder, undefined, 300);
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder);
    const first = a.chatOrder!.enter(CHAT);
    await first;
    const second = b.chatOrder!.enter(CHAT);
    const stuck = new ReplyStream();
    stuck.holdDelivery(); // an adapter that never reports delivery
    await lineA(CHAT, async () => stuck.end(), { ticket: first, out: stuck });
    const seen: string[] = [];
    const sending = await replyingTurn(lineB, { ticket: second }, seen, 'next');
    sending.deliver();
    await sending.read;
    expect(seen).toEqual(['next reply reaches its adapter', 'next reply delivered']);
  });
});

describe.skipIf(!hasRedis())("a dead instance's place in a chat's line", () => {
  // Places free a second after their holder stops renewing them.
  const pairs = coordinationPairs(1000);
  afterEach(() => pairs.close());

  it("is held again by the instance that takes its message over, so the chat's later turn still waits for it", async () => {
    const [a, b] = await pairs.two();
    await a.chatOrder!.enter(CHAT, 'telegram:1');
    await a.close(); // dies: its place is no longer renewed
    const seen: string[] = [];
    // The chat's next message, on the survivor, queued in its process before the takeover.
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder);
    const later = lineB(CHAT, async () => void seen.push('later message runs'), { ticket: b.chatOrder!.enter(CHAT, 'telegram:2') });
    const adopted = await b.chatOrder!.adopt(CHAT, 'telegram:1');
    expect(adopted).toBeDefined();
    // It runs ahead of the survivor's queue, which holds the later turn waiting for it.
    await lineB(CHAT, async () => {
      await new Promise((r) => setTimeout(r, 1500)); // longer than the dead holder's place lasted
      seen.push('taken-over message runs');
    }, { ticket: Promise.resolve(adopted!), takenBack: Promise.resolve(true) });
    await later;
    expect(seen).toEqual(['taken-over message runs', 'later message runs']);
  });

  it("is held again when the platform delivers the message again to a survivor, where it queues behind the chat's later turn and leaves that queue", async () => {
    const [a, b] = await pairs.two();
    await a.chatOrder!.enter(CHAT, 'telegram:1');
    await a.close();
    const seen: string[] = [];
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder);
    const later = lineB(CHAT, async () => void seen.push('later message runs'), { ticket: b.chatOrder!.enter(CHAT, 'telegram:2') });
    // The first message arrives again, after the later one: it queues behind it in this process,
    // and learns only from its claim that a dead instance had it.
    let retaken!: (yes: boolean) => void;
    const place = platformPlace(b.chatOrder!, CHAT, 'telegram:1', new Promise<boolean>((r) => (retaken = r)));
    const again = lineB(CHAT, async () => {
      await new Promise((r) => setTimeout(r, 1500)); // longer than the dead holder's place lasted
      seen.push('message delivered again runs');
    }, { ticket: place.ticket, takenBack: place.takenBack });
    retaken(true);
    expect(await place.takenBack).toBe(true);
    await Promise.all([again, later]);
    expect(seen).toEqual(['message delivered again runs', 'later message runs']);
  });

  it("runs a sweep's messages whose claims come back out of order, when their old places are gone, in the order they were found", async () => {
    const [b] = await pairs.two();
    const seen: string[] = [];
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder);
    // Two messages a dead instance left, found by this instance's sweep in this order; the line
    // kept neither place. Their claims are two statements on a pool: the second comes back first.
    const claims = [0, 1].map(() => {
      let retaken!: (yes: boolean) => void;
      return { outcome: new Promise<boolean>((r) => (retaken = r)), retaken };
    });
    const places = claims.map((c, i) => platformPlace(b.chatOrder!, CHAT, `telegram:swept-${i}`, c.outcome));
    const turns = places.map((place, i) => lineB(CHAT, async () => void seen.push(`swept message ${i} runs`), { ticket: place.ticket, takenBack: place.takenBack }));
    claims[1]!.retaken(true);
    await places[1]!.ticket; // its place in the line is settled first
    claims[0]!.retaken(true);
    const done = Promise.all(turns).then(() => 'both ran');
    expect(await Promise.race([done, new Promise((r) => setTimeout(() => r('still waiting for each other'), 5000))])).toBe('both ran');
    expect(seen).toEqual(['swept message 0 runs', 'swept message 1 runs']);
  });

  it('keeps the place it took on arriving again when the line kept none from before (its record gone with a Redis restart)', async () => {
    const [a, b] = await pairs.two();
    const seen: string[] = [];
    const place = platformPlace(b.chatOrder!, CHAT, 'telegram:record-gone', Promise.resolve(true));
    expect(await place.takenBack).toBe(false);
    let finish!: () => void;
    const held = new Promise<void>((r) => (finish = r));
    const swept = inChatLine(new KeyedSerialQueue(), b.chatOrder)(CHAT, async () => (await held, void seen.push('swept message runs')), place);
    // The chat's next message, on the other instance, waits for it.
    const later = inChatLine(new KeyedSerialQueue(), a.chatOrder)(CHAT, async () => void seen.push('later message runs'), { ticket: a.chatOrder!.enter(CHAT, 'telegram:after') });
    await new Promise((r) => setTimeout(r, 300));
    finish();
    await Promise.all([swept, later]);
    expect(seen).toEqual(['swept message runs', 'later message runs']);
  });

  it("holds the chat's later turn and its reply, however long the takeover takes, until the dead instance's message is answered by whoever takes it over", async () => {
    const [a, b] = await pairs.two();
    const owing = new Set(['telegram:1']); // its claim is unfinished
    await a.chatOrder!.enter(CHAT, 'telegram:1');
    await a.close(); // dies before delivering: its places are no longer renewed
    const seen: string[] = [];
    const lineB = lineAsking(b, owing);
    const { ran: laterRan, ...later } = noteRunning(lineB, { ticket: b.chatOrder!.enter(CHAT, 'telegram:2') }, seen, 'later');
    // The takeover waits for the database (an outage), well past the second the dead place lasted:
    // the later turn does not run meanwhile (the model would see it before the earlier message).
    await new Promise((r) => setTimeout(r, 2500));
    expect(seen).toEqual([]);

    const adopted = await b.chatOrder!.adopt(CHAT, 'telegram:1');
    expect(adopted).toBeDefined();
    const taken = await replyingTurn(lineB, { ticket: Promise.resolve(adopted!), takenBack: Promise.resolve(true) }, seen, 'taken-over');
    await laterRan;
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['taken-over reply reaches its adapter', 'later message runs']);
    owing.delete('telegram:1');
    taken.deliver();
    later.deliver();
    await Promise.all([taken.read, later.read]);
    expect(seen).toEqual(['taken-over reply reaches its adapter', 'later message runs', 'taken-over reply delivered', 'later reply reaches its adapter', 'later reply delivered']);
  });

  it("holds the chat's later turn behind a dead instance's message that never reached the database, until the platform gives it back and it takes back its place", async () => {
    const [a, b] = await pairs.two();
    const h = await startHarness();
    try {
      // The instance took the message's place and died before recording its claim: only the platform has it.
      await a.chatOrder!.enter(CHAT, 'telegram:1');
      await a.close();
      const seen: string[] = [];
      const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder, undefined, undefined, owedReply(h));
      const { ran: laterRan, ...later } = noteRunning(lineB, { ticket: b.chatOrder!.enter(CHAT, 'telegram:2') }, seen, 'later');
      await new Promise((r) => setTimeout(r, 2500)); // well past the second the dead place lasted
      expect(seen).toEqual([]);

      // The platform gives it back (Telegram's next poll): claimed here, it takes back its place.
      await h.store.instances.register('b', h.clock.now());
      await h.store.events.claim({ platform: 'telegram', eventId: '1', owner: 'b', now: h.clock.now(), deadAfterMs: 10_000, leaseMs: 120_000, payload: '{}' });
      const adopted = await b.chatOrder!.adopt(CHAT, 'telegram:1');
      expect(adopted).toBeDefined();
      const given = await replyingTurn(lineB, { ticket: Promise.resolve(adopted!), takenBack: Promise.resolve(true) }, seen, 'given-back');
      await laterRan;
      await h.store.events.complete('telegram', '1');
      given.deliver();
      later.deliver();
      await Promise.all([given.read, later.read]);
      expect(seen).toEqual(['given-back reply reaches its adapter', 'later message runs', 'given-back reply delivered', 'later reply reaches its adapter', 'later reply delivered']);
    } finally {
      await h.close();
    }
  });

  it("lets the chat's later turn run once the dead instance's message owes nothing, though nobody took its place back", async () => {
    const [a, b] = await pairs.two();
    const owing = new Set(['telegram:1']);
    await a.chatOrder!.enter(CHAT, 'telegram:1');
    await a.close();
    const seen: string[] = [];
    const lineB = lineAsking(b, owing);
    const later = replyingTurn(lineB, { ticket: b.chatOrder!.enter(CHAT, 'telegram:2') }, seen, 'later');
    await new Promise((r) => setTimeout(r, 1500)); // past the dead place's life
    expect(seen).toEqual([]);
    owing.delete('telegram:1'); // answered by an instance that found its place passed, or never claimed
    const sending = await later;
    sending.deliver();
    await sending.read;
    expect(seen).toEqual(['later reply reaches its adapter', 'later reply delivered']);
  });

  it("lets the chat's later reply pass a dead instance's place whose message owes nothing (never recorded, or answered)", async () => {
    const [a, b] = await pairs.two();
    await a.chatOrder!.enter(CHAT, 'telegram:never-claimed');
    await a.close();
    const asked: string[] = [];
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder, undefined, undefined, async (eventKey) => (asked.push(eventKey), false));
    const seen: string[] = [];
    const sending = await replyingTurn(lineB, { ticket: b.chatOrder!.enter(CHAT, 'telegram:2') }, seen, 'later');
    sending.deliver();
    await sending.read;
    expect(seen).toEqual(['later reply reaches its adapter', 'later reply delivered']);
    expect(asked).toEqual(['telegram:never-claimed']);
  });

  it("is kept, not given up, by a live instance that hands its message to the recovery sweep, so the chat's later reply waits for the sweep's answer", async () => {
    const { a, owing, lineA, lineB, seen, first, second } = await firstOwingThenSecond(pairs);
    // The database drops under the first turn: its message goes to the sweep, with no reply yet.
    const dropped = await handedOffTurn(lineA, { ticket: first }, seen, 'dropped');
    const laterRan = replyingTurn(lineB, { ticket: second }, seen, 'later');
    await new Promise((r) => setTimeout(r, 2500)); // the database is back only after the place lapsed
    expect(seen).toEqual(['dropped reply delivered']); // an empty stream: nothing shown

    // The sweep (of the same live instance) answers it, in its old place.
    const adopted = await a.chatOrder!.adopt(CHAT, 'telegram:1');
    expect(adopted).toBeDefined();
    const swept = await replyingTurn(lineA, { ticket: Promise.resolve(adopted!), takenBack: Promise.resolve(true) }, seen, 'swept');
    const later = await laterRan;
    owing.delete('telegram:1');
    swept.deliver();
    later.deliver();
    await Promise.all([swept.read, later.read, dropped.read]);
    expect(seen).toEqual(['dropped reply delivered', 'swept reply reaches its adapter', 'swept reply delivered', 'later reply reaches its adapter', 'later reply delivered']);
  });

  it("keeps the running part too for the message a turn hands to the sweep, so the chat's later turn runs only after the sweep's answer has", async () => {
    // Chaos seed 1273: a later Slack message's turn ran while the earlier one waited for the sweep,
    // and the model answered the earlier one with the later one and its reply already in its context.
    const { a, owing, lineA, lineB, seen, first, second } = await firstOwingThenSecond(pairs);
    // The database drops under the first turn, which throws as the engine's chain does; the engine
    // then hands the message to the sweep, and ends its reply stream.
    const droppedOut = new ReplyStream();
    const dropped = adapter(droppedOut, seen, 'dropped');
    dropped.deliver();
    await expect(lineA(CHAT, async () => {
      throw dropped_();
    }, { ticket: first, out: droppedOut })).rejects.toBeInstanceOf(StoreUnavailableError);
    droppedOut.handOff();
    droppedOut.end();
    const { ran: laterRan, ...later } = noteRunning(lineB, { ticket: second }, seen, 'later');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual(['dropped reply delivered']);

    // The sweep answers it, in its old place, running before the later turn.
    const adopted = await a.chatOrder!.adopt(CHAT, 'telegram:1');
    expect(adopted).toBeDefined();
    const swept = await replyingTurn(lineA, { ticket: Promise.resolve(adopted!), takenBack: Promise.resolve(true) }, seen, 'swept');
    seen.push('swept message ran');
    owing.delete('telegram:1');
    swept.deliver();
    later.deliver();
    await Promise.all([laterRan, swept.read, later.read, dropped.read]);
    expect(seen.indexOf('swept message ran')).toBeLessThan(seen.indexOf('later message runs'));
    expect(seen.filter((e) => e.endsWith('delivered'))).toEqual(['dropped reply delivered', 'swept reply delivered', 'later reply delivered']);
  });

  it("keeps both parts of a duplicate arrival's place that stands for its message, so the chat's later turn runs only once that message is answered", async () => {
    // Chaos seed 1274: the instance holding the claim took no place (Redis had just lost the line);
    // the duplicate arrival's place stood for the message in sending only, and the chat's next
    // message ran before it, so the model answered the earlier message with the later one in view.
    // The message is answered meanwhile by the instance holding its claim.
    const { owing, lineA, lineB, seen, first, second } = await firstOwingThenSecond(pairs);
    expect((await first).firstForEvent).toBe(true);
    // The duplicate's turn hands its place to the message (as the dedupe step does) and ends.
    const duplicate = await handedOffTurn(lineA, { ticket: first, answers: Promise.resolve(false) }, seen, 'duplicate');
    const { ran: laterRan, ...later } = noteRunning(lineB, { ticket: second }, seen, 'later');
    await new Promise((r) => setTimeout(r, 1500)); // past the place's life: it is gone, its message still owed
    expect(seen).toEqual(['duplicate reply delivered']);
    owing.delete('telegram:1');
    await laterRan;
    later.deliver();
    await Promise.all([later.read, duplicate.read]);
    expect(seen).toEqual(['duplicate reply delivered', 'later message runs', 'later reply reaches its adapter', 'later reply delivered']);
  });

  it('never holds up the message itself, arriving again where its earlier place was not taken back', async () => {
    const [a, b] = await pairs.two();
    await a.chatOrder!.enter(CHAT, 'telegram:1'); // the first arrival, which died before recording the message
    await a.close();
    await new Promise((r) => setTimeout(r, 1200)); // its place lapses
    const seen: string[] = [];
    const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder, undefined, undefined, async (eventKey) => eventKey === 'telegram:1');
    const sending = await replyingTurn(lineB, { ticket: b.chatOrder!.enter(CHAT, 'telegram:1') }, seen, 'again');
    sending.deliver();
    const read = sending.read.then(() => 'delivered');
    expect(await Promise.race([read, new Promise((r) => setTimeout(() => r('held up by its own earlier place'), 5000))])).toBe('delivered');
    expect(seen).toEqual(['again reply reaches its adapter', 'again reply delivered']);
  });

  it("is replaced by the place the message took on arriving again once the line has passed it, so a second death still holds the chat's later reply", async () => {
    const [a, b, c] = await pairs.three();
    const owing = new Set<string>();
    await a.chatOrder!.enter(CHAT, 'telegram:1');
    await a.close(); // dies before the message's claim landed
    // The chat's next message goes on: the dead place lapses, and its message owes nothing (no claim).
    const seen: string[] = [];
    const passing = await replyingTurn(lineAsking(b, owing), { ticket: b.chatOrder!.enter(CHAT, 'telegram:2') }, seen, 'second');
    passing.deliver();
    await passing.read;
    // The platform delivers the first message again, to b: its claim lands there, and the line had
    // passed its old place, so it keeps the place it took now. Then b dies too.
    owing.add('telegram:1');
    const again = platformPlace(b.chatOrder!, CHAT, 'telegram:1', Promise.resolve(true));
    expect(await again.takenBack).toBe(false);
    await again.ticket;
    await b.close();
    // The chat's third message, on c, waits until the first is answered.
    const lineC = lineAsking(c, owing);
    const thirdRan = replyingTurn(lineC, { ticket: c.chatOrder!.enter(CHAT, 'telegram:3') }, seen, 'third');
    await new Promise((r) => setTimeout(r, 1500)); // longer than b's place lasts
    expect(seen).toEqual(['second reply reaches its adapter', 'second reply delivered']);
    const adopted = await c.chatOrder!.adopt(CHAT, 'telegram:1');
    expect(adopted).toBeDefined();
    const taken = await replyingTurn(lineC, { ticket: Promise.resolve(adopted!), takenBack: Promise.resolve(true) }, seen, 'taken-over');
    taken.deliver();
    await taken.read;
    owing.delete('telegram:1');
    const third = await thirdRan;
    third.deliver();
    await third.read;
    expect(seen.slice(2)).toEqual(['taken-over reply reaches its adapter', 'taken-over reply delivered', 'third reply reaches its adapter', 'third reply delivered']);
  });

  it('is not taken over once the line has passed it', async () => {
    const [a, b] = await pairs.two();
    const first = await a.chatOrder!.enter(CHAT, 'telegram:1');
    await first.leave({ sent: true });
    expect(await b.chatOrder!.adopt(CHAT, 'telegram:1')).toBeUndefined();
    expect(await b.chatOrder!.adopt(CHAT, 'telegram:never-seen')).toBeUndefined();
  });
});

describe.skipIf(!hasRedis())("a dead instance's place while the database is away", () => {
  // Places free a second after their holder stops renewing them; a gone place holds 0.8 s at most.
  const pairs = coordinationPairs(1000, 800);
  afterEach(() => pairs.close());

  it("holds the chat's later turn past the bound by as long as the database was away meanwhile, since the takeover waits on it too", async () => {
    const [a, b] = await pairs.two();
    const owing = new Set(['telegram:1']);
    await a.chatOrder!.enter(CHAT, 'telegram:1');
    await a.close(); // dies before answering it
    let down = 0;
    const away = setInterval(() => (down += 100), 100); // the database is unreachable throughout
    try {
      const owed = Object.assign(async (eventKey: string) => owing.has(eventKey), { downtime: () => down });
      const lineB = inChatLine(new KeyedSerialQueue(), b.chatOrder, undefined, undefined, owed);
      const seen: string[] = [];
      const { ran, ...later } = noteRunning(lineB, { ticket: b.chatOrder!.enter(CHAT, 'telegram:2') }, seen, 'later');
      await new Promise((r) => setTimeout(r, 3000)); // the place's second, and well past the bound
      expect(seen).toEqual([]);
      owing.delete('telegram:1'); // answered once the database is back
      await ran;
      expect(seen[0]).toBe('later message runs');
      later.deliver();
      await later.read;
    } finally {
      clearInterval(away);
    }
  });
});
