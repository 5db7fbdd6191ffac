/**
 * A chat's line after Redis lost its data: turns that came after the loss keep their order, and the
 * line that starts afresh is rebuilt from the database, so a message still owed from before the
 * loss (a dead instance's, taken over later, or a live instance's) holds the chat's later replies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReplyStream } from '../../src/engine/reply-stream.js';
import { platformPlace } from '../../src/engine/steps/serialize.js';
import { hasRedis } from '../helpers/services.js';
import { coordinationPairs } from '../helpers/coordinations.js';
import { CHAT, answeredInOrder, claimsOf, firstThenSecond, laterReplyWaitsFor, lineAsking, liveReplyBeforeNextOne, liveTurnAfterLoss, replyingTurn, runsInto } from './chat-line-world.js';

describe.skipIf(!hasRedis())("a chat's line across instances, after Redis lost its data", () => {
  const pairs = coordinationPairs(3000);
  afterEach(() => pairs.close());

  it('keeps the order of turns that came after Redis lost its data, whatever a turn still waiting from before it does', async () => {
    const [a, b] = await pairs.two();
    await a.chatOrder!.enter(CHAT);
    const stale = await a.chatOrder!.enter(CHAT);
    await pairs.loseData();
    // The turn from before looks at the line again (it finds the places in front of it gone) and leaves.
    await stale.wait();
    await stale.waitToSend();
    await stale.leave({ sent: true });
    const { seen, first, second, out1, out2, lineA, lineB, sending1, sending2 } = await firstThenSecond(a, b);
    let finishFirst!: () => void;
    const firstFinishes = new Promise<void>((r) => (finishFirst = r));
    const ran1 = lineA(CHAT, async () => {
      seen.push('first runs');
      await firstFinishes;
      out1.push({ type: 'delta', text: 'first reply' });
      out1.end();
    }, { ticket: first, out: out1 });
    const ran2 = lineB(CHAT, async () => {
      seen.push('second runs');
      out2.push({ type: 'delta', text: 'second reply' });
      out2.end();
    }, { ticket: second, out: out2 });
    await new Promise((r) => setTimeout(r, 300)); // the second turn's chance to run, or send, too early
    finishFirst();
    await Promise.all([ran1, ran2]);
    await new Promise((r) => setTimeout(r, 300));
    sending1.deliver();
    sending2.deliver();
    await Promise.all([sending1.read, sending2.read]);
    expect(seen).toEqual(['first runs', 'first reply reaches its adapter', 'second runs', 'first reply delivered', 'second reply reaches its adapter', 'second reply delivered']);
  });

  it("is rebuilt from the database after Redis lost it: the chat's next replies wait for a message a live instance still answers from before the loss", async () => {
    const [a, b] = await pairs.two();
    const before = await a.chatOrder!.enter(CHAT, 'telegram:1');
    await pairs.loseData();
    const owing = new Set(['telegram:1', 'telegram:2', 'telegram:3']);
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    // The turn that finds the line fresh asks, and the database answers slowly: a turn entering
    // meanwhile on the other instance must not look past the room left below it.
    b.chatOrder!.rebuildFrom!(claimsOf(owing, false, answered));
    a.chatOrder!.rebuildFrom!(claimsOf(owing, false));
    const lineA = lineAsking(a, owing);
    const lineB = lineAsking(b, owing);
    const second = b.chatOrder!.enter(CHAT, 'telegram:2');
    await second;
    const third = a.chatOrder!.enter(CHAT, 'telegram:3');
    await third;
    const seen: string[] = [];
    // The turn from before the loss holds a place the new line does not know: once the rebuild is
    // done, it takes the place the rebuild kept for its message, in front of the new line's first.
    const firstRan = replyingTurn(lineA, { ticket: Promise.resolve(before) }, seen, 'first');
    const later = replyingTurn(lineB, { ticket: second }, seen, 'second');
    const last = replyingTurn(lineA, { ticket: third }, seen, 'third');
    await new Promise((r) => setTimeout(r, 300));
    answer();
    await new Promise((r) => setTimeout(r, 900));
    const first = await firstRan;
    expect(seen).toEqual(['first reply reaches its adapter']);
    first.deliver();
    await first.read;
    owing.delete('telegram:1'); // its claim is finished once its reply is delivered
    const sending2 = await later;
    sending2.deliver();
    await sending2.read;
    const sending3 = await last;
    sending3.deliver();
    await sending3.read;
    expect(seen).toEqual([
      'first reply reaches its adapter',
      'first reply delivered',
      'second reply reaches its adapter',
      'second reply delivered',
      'third reply reaches its adapter',
      'third reply delivered',
    ]);
  });
});

describe.skipIf(!hasRedis())("a dead instance's place in a chat's line, after Redis lost its data", () => {
  // Places free a second after their holder stops renewing them.
  const pairs = coordinationPairs(1000);
  afterEach(() => pairs.close());

  it("is put back from the database when Redis lost the line, so the chat's next message still waits for its takeover", async () => {
    const [a, b] = await pairs.two();
    await a.chatOrder!.enter(CHAT, 'telegram:1');
    await a.close(); // dies with the message waiting in line
    await pairs.loseData(); // and Redis restarts without its data: the line and that place are gone
    const owing = new Set(['telegram:1', 'telegram:2', 'telegram:3']);
    let answer!: () => void;
    b.chatOrder!.rebuildFrom!(claimsOf(owing, true, new Promise<void>((r) => (answer = r))));
    const seen: string[] = [];
    const lineB = lineAsking(b, owing);
    const second = b.chatOrder!.enter(CHAT, 'telegram:2');
    await second;
    const later = lineB(CHAT, async () => void seen.push('later message runs'), { ticket: second });
    // A message after it looks at the line while the database is still being asked: it must not
    // look past the room left for the earlier ones.
    const third = await b.chatOrder!.enter(CHAT, 'telegram:3');
    const thirdRuns = third.wait().then(() => void seen.push('third message runs'));
    await new Promise((r) => setTimeout(r, 200));
    answer();
    await new Promise((r) => setTimeout(r, 200)); // the sweep comes later than the line's first turn
    const place = platformPlace(b.chatOrder!, CHAT, 'telegram:1', Promise.resolve(true));
    expect(await place.takenBack).toBe(true);
    await lineB(CHAT, async () => {
      await new Promise((r) => setTimeout(r, 1500)); // longer than the dead holder's place lasted
      seen.push('taken-over message runs');
    }, place);
    await later;
    await thirdRuns;
    await third.leave({ sent: true });
    expect(seen).toEqual(['taken-over message runs', 'later message runs', 'third message runs']);
  });

  it("is started by a live turn from before Redis lost it, when no turn has entered it yet: rebuilt around its message, the chat's earlier message runs first", async () => {
    const [a, b] = await pairs.two();
    await a.chatOrder!.enter(CHAT, 'telegram:1');
    const second = await b.chatOrder!.enter(CHAT, 'telegram:2'); // waits behind it
    await a.close(); // dies with the first message
    await pairs.loseData(); // and the line, with both places, is gone
    const owing = new Set(['telegram:1', 'telegram:2']);
    b.chatOrder!.rebuildFrom!(claimsOf(owing, true));
    const seen: string[] = [];
    const lineB = lineAsking(b, owing);
    // No turn has entered the new line yet: the second message's turn starts it, and its rebuild
    // puts the first message back in front of it, so that turn waits for it to run.
    const laterRan = replyingTurn(lineB, { ticket: Promise.resolve(second) }, seen, 'second');
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual([]);
    // The sweep takes the first message over, in the place the rebuild kept for it.
    const place = platformPlace(b.chatOrder!, CHAT, 'telegram:1', Promise.resolve(true));
    expect(await place.takenBack).toBe(true);
    const taken = await replyingTurn(lineB, place, seen, 'taken-over');
    taken.deliver();
    await taken.read;
    owing.delete('telegram:1');
    const later = await laterRan;
    later.deliver();
    await later.read;
    expect(seen).toEqual(['taken-over reply reaches its adapter', 'taken-over reply delivered', 'second reply reaches its adapter', 'second reply delivered']);
  });

  it("is where a live turn from before the loss waits, in the place the rebuild kept for its message, so it runs after the chat's earlier message, not at once", async () => {
    // Chaos seeds 1274–1276: such a turn ran its model call at once (only its reply waited), and
    // the model answered the chat's earlier messages with its message in view.
    const { b, before, owing, seen, lineA, lineB, runs } = await liveTurnAfterLoss(pairs, ['telegram:1', 'telegram:2', 'telegram:3']);
    // The chat's third message starts the new line: its rebuild puts the first two back in front.
    const thirdTicket = b.chatOrder!.enter(CHAT, 'telegram:3');
    await thirdTicket;
    const third = runs(lineB, 'third', { ticket: thirdTicket });
    // The live turn looks at the line only now: its own place is gone.
    const second = runs(lineA, 'second', { ticket: Promise.resolve(before) });
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual([]);
    // The sweep takes the first message over, in the place the rebuild kept for it.
    const first = runs(lineB, 'first', platformPlace(b.chatOrder!, CHAT, 'telegram:1', Promise.resolve(true)));
    await answeredInOrder(owing, [[first, 'telegram:1'], [second, 'telegram:2'], [third, 'telegram:3']]);
    expect(seen).toEqual(['first runs', 'second runs', 'third runs']);
  });

  it('is where a live turn waits again when Redis loses its data a second time, after the turn moved to the place the first rebuild kept for it', async () => {
    // Chaos seed 1279: such a turn, its new place lost too, ran at once beside the chat's other
    // turns from before, and the model answered earlier messages with later ones in view.
    const { b, before, owing, seen, lineA, lineB, runs } = await liveTurnAfterLoss(pairs, ['telegram:1', 'telegram:2', 'telegram:3', 'telegram:4']);
    const thirdTicket = b.chatOrder!.enter(CHAT, 'telegram:3');
    await thirdTicket;
    const third = runs(lineB, 'third', { ticket: thirdTicket });
    const second = runs(lineA, 'second', { ticket: Promise.resolve(before) });
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual([]); // the second turn moved to the place kept for it, behind the first
    await pairs.loseData(); // and loses that place too
    const fourthTicket = b.chatOrder!.enter(CHAT, 'telegram:4');
    await fourthTicket;
    const fourth = runs(lineB, 'fourth', { ticket: fourthTicket });
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toEqual([]);
    const first = runs(lineB, 'first', platformPlace(b.chatOrder!, CHAT, 'telegram:1', Promise.resolve(true)));
    await answeredInOrder(owing, [[first, 'telegram:1'], [second, 'telegram:2'], [third, 'telegram:3'], [fourth, 'telegram:4']]);
    expect(seen).toEqual(['first runs', 'second runs', 'third runs', 'fourth runs']);
  });

  it("is put back behind the older message that started it afresh, so a live turn from before the loss still holds the chat's later reply", async () => {
    await liveReplyBeforeNextOne(pairs);
  });

  it("puts no message behind its first place in front of one of the chat's earlier messages that entered the new line first", async () => {
    const [dying, b] = await pairs.two();
    await dying.chatOrder!.enter(CHAT, 'telegram:1');
    await dying.close(); // dies with the chat's three messages
    await pairs.loseData();
    const owing = new Set(['telegram:1', 'telegram:2', 'telegram:3']);
    let answer!: () => void;
    b.chatOrder!.rebuildFrom!(claimsOf(owing, true, new Promise<void>((r) => (answer = r))));
    const lineB = lineAsking(b, owing);
    const seen: string[] = [];
    const run = (eventKey: string) => lineB(CHAT, async () => void seen.push(`${eventKey} runs`), platformPlace(b.chatOrder!, CHAT, eventKey, Promise.resolve(true)));
    // The sweep takes the first two over in one go: both enter the new line while its first turn
    // still asks the database, which then lists the other two as having come after it.
    const first = run('telegram:1');
    const second = run('telegram:2');
    await new Promise((r) => setTimeout(r, 200));
    answer();
    await new Promise((r) => setTimeout(r, 200));
    // The third is taken over by the next sweep.
    const third = run('telegram:3');
    await Promise.all([first, second, third]);
    expect(seen).toEqual(['telegram:1 runs', 'telegram:2 runs', 'telegram:3 runs']);
  });

  it('moves a later message that entered the new line ahead of earlier ones behind them, on the same instance or another', async () => {
    // Chaos seed 1298: after a Redis crash, a live message got through to the new line between
    // two batches of a dead instance's earlier messages, and was answered before them.
    for (const sameInstance of [true, false]) {
      const [dying, a, b] = await pairs.three();
      for (const e of ['telegram:1', 'telegram:2', 'telegram:3']) await dying.chatOrder!.enter(CHAT, e);
      await dying.close(); // dies with the chat's first three messages
      await pairs.loseData();
      const owing = new Set(['telegram:1', 'telegram:2', 'telegram:3', 'telegram:4']);
      const gone = new Set(['telegram:1', 'telegram:2', 'telegram:3']);
      let answer!: () => void;
      b.chatOrder!.rebuildFrom!(claimsOf(owing, gone, new Promise<void>((r) => (answer = r))));
      a.chatOrder!.rebuildFrom!(claimsOf(owing, gone));
      const lineB = lineAsking(b, owing);
      const live = sameInstance ? b : a;
      const lineLive = sameInstance ? lineB : lineAsking(a, owing);
      const seen: string[] = [];
      const run = (c: typeof b, line: typeof lineB, eventKey: string) =>
        line(CHAT, async () => void seen.push(`${eventKey} runs`), platformPlace(c.chatOrder!, CHAT, eventKey, Promise.resolve(true)));
      // The sweep takes the first over, which starts the new line and asks the database; the
      // chat's fourth message, sent after the loss, enters before the next sweep takes the
      // second and third over.
      const first = run(b, lineB, 'telegram:1');
      await new Promise((r) => setTimeout(r, 100));
      const fourth = run(live, lineLive, 'telegram:4');
      await new Promise((r) => setTimeout(r, 100));
      const rest = ['telegram:2', 'telegram:3'].map((e) => run(b, lineB, e));
      await new Promise((r) => setTimeout(r, 200));
      answer();
      await Promise.all([first, fourth, ...rest]);
      expect(seen).toEqual(['telegram:1 runs', 'telegram:2 runs', 'telegram:3 runs', 'telegram:4 runs']);
      await pairs.close();
    }
  });

  it("puts a live instance's message from before the loss right behind the sweep's messages that entered the new line first, so the chat's next reply waits for it", async () => {
    const [dying, a, b] = await pairs.three();
    await dying.chatOrder!.enter(CHAT, 'telegram:1');
    await dying.chatOrder!.enter(CHAT, 'telegram:2');
    const before = await a.chatOrder!.enter(CHAT, 'telegram:3'); // waits behind them, on a live instance
    await dying.close();
    await pairs.loseData();
    const owing = new Set(['telegram:1', 'telegram:2', 'telegram:3']);
    const gone = new Set(['telegram:1', 'telegram:2']);
    let answer!: () => void;
    b.chatOrder!.rebuildFrom!(claimsOf(owing, gone, new Promise<void>((r) => (answer = r))));
    a.chatOrder!.rebuildFrom!(claimsOf(owing, gone));
    const lineA = lineAsking(a, owing);
    const lineB = lineAsking(b, owing);
    const seen: string[] = [];
    const third = replyingTurn(lineA, { ticket: Promise.resolve(before) }, seen, 'third');
    // The sweep takes the first two over in one go: both enter the new line before the database answers.
    const places = ['telegram:1', 'telegram:2'].map((e) => platformPlace(b.chatOrder!, CHAT, e, Promise.resolve(true)));
    await new Promise((r) => setTimeout(r, 200));
    answer();
    const taken = places.map((p, i) => replyingTurn(lineB, p, seen, i ? 'second' : 'first'));
    for (const [i, t] of taken.entries()) {
      const sending = await t;
      sending.deliver();
      await sending.read;
      owing.delete(`telegram:${i + 1}`);
    }
    const waiting = await third;
    await laterReplyWaitsFor({
      waiting, waitingKey: 'telegram:3', waitingName: 'third', line: lineB, order: b.chatOrder!, laterKey: 'telegram:4', laterName: 'fourth', owing, seen,
      seenBefore: ['first reply reaches its adapter', 'first reply delivered', 'second reply reaches its adapter', 'second reply delivered'],
    });
  });

  it("is moved in front of the message that started it afresh when it entered behind it while the database was asked, on the same instance or another", async () => {
    for (const sameInstance of [true, false]) {
      const [dying, a, b] = await pairs.three();
      await dying.chatOrder!.enter(CHAT, 'telegram:1');
      await dying.close(); // dies with the chat's first message
      await pairs.loseData();
      const owing = new Set(['telegram:1', 'telegram:2']);
      let answer!: () => void;
      b.chatOrder!.rebuildFrom!(claimsOf(owing, new Set(['telegram:1']), new Promise<void>((r) => (answer = r))));
      a.chatOrder!.rebuildFrom!(claimsOf(owing, new Set(['telegram:1'])));
      const lineB = lineAsking(b, owing);
      const taker = sameInstance ? b : a;
      const lineTaker = sameInstance ? lineB : lineAsking(a, owing);
      const seen: string[] = [];
      // The chat's second message arrives after the loss and starts the new line; while its turn
      // asks the database, the first message is taken over and enters the line behind it.
      const second = replyingTurn(lineB, platformPlace(b.chatOrder!, CHAT, 'telegram:2', Promise.resolve(true)), seen, 'second');
      const first = replyingTurn(lineTaker, platformPlace(taker.chatOrder!, CHAT, 'telegram:1', Promise.resolve(true)), seen, 'taken-over');
      await new Promise((r) => setTimeout(r, 200));
      answer();
      const taken = await first;
      await new Promise((r) => setTimeout(r, 300)); // the second reply's chance to overtake
      expect(seen).toEqual(['taken-over reply reaches its adapter']);
      taken.deliver();
      await taken.read;
      owing.delete('telegram:1');
      const sending = await second;
      sending.deliver();
      await sending.read;
      expect(seen).toEqual(['taken-over reply reaches its adapter', 'taken-over reply delivered', 'second reply reaches its adapter', 'second reply delivered']);
      await pairs.close();
    }
  });

  it("is filled by another turn when the turn that started it afresh dies before putting the chat's earlier messages back", async () => {
    // Chaos seed 1280: the instance whose turn started the new line died while asking the
    // database; the chat's earlier messages, taken over, ran after the line's first message.
    const [dying, b] = await pairs.two();
    await pairs.loseData();
    const owing = new Set(['telegram:1', 'telegram:2', 'telegram:3']);
    dying.chatOrder!.rebuildFrom!(claimsOf(owing, true, new Promise<void>(() => undefined)));
    b.chatOrder!.rebuildFrom!(claimsOf(owing, true));
    await dying.chatOrder!.enter(CHAT, 'telegram:3'); // starts the new line, and asks the database
    await dying.close(); // and dies before the answer
    const lineB = lineAsking(b, owing);
    const seen: string[] = [];
    const runs = runsInto(seen);
    // The sweep takes the dead instance's messages over, oldest first.
    const taken = ['telegram:1', 'telegram:2', 'telegram:3'].map((e, i) => [runs(lineB, ['first', 'second', 'third'][i]!, platformPlace(b.chatOrder!, CHAT, e, Promise.resolve(true))), e] as [Promise<unknown>, string]);
    await answeredInOrder(owing, taken);
    expect(seen).toEqual(['first runs', 'second runs', 'third runs']);
  });

  it('is filled by another turn when a proactive turn started it afresh and died first, so the chat keeps its messages in arrival order', async () => {
    const [dying, b] = await pairs.two();
    await pairs.loseData();
    const owing = new Set(['telegram:1', 'telegram:2', 'telegram:3']);
    dying.chatOrder!.rebuildFrom!(claimsOf(owing, true, new Promise<void>(() => undefined)));
    b.chatOrder!.rebuildFrom!(claimsOf(owing, new Set(['telegram:1', 'telegram:2'])));
    await dying.chatOrder!.enter(CHAT); // a proactive message starts the new line, and asks the database
    await dying.close(); // and dies before the answer, with the chat's first two messages
    const lineB = lineAsking(b, owing);
    const seen: string[] = [];
    const runs = runsInto(seen);
    // The chat's third message is live on B and enters first; the sweep then takes the dead
    // instance's two over, oldest first.
    const third = [runs(lineB, 'third', platformPlace(b.chatOrder!, CHAT, 'telegram:3', Promise.resolve(true))), 'telegram:3'] as [Promise<unknown>, string];
    await new Promise((r) => setTimeout(r, 100));
    const taken = ['telegram:1', 'telegram:2'].map((e, i) => [runs(lineB, ['first', 'second'][i]!, platformPlace(b.chatOrder!, CHAT, e, Promise.resolve(true))), e] as [Promise<unknown>, string]);
    await answeredInOrder(owing, [...taken, third]);
    expect(seen).toEqual(['first runs', 'second runs', 'third runs']);
  });

  it("is filled by a live turn from before the loss, whose place it lost, when the turn that started it dies first; that turn then waits in the place kept for its message", async () => {
    const [dying, a, b] = await pairs.three();
    await dying.chatOrder!.enter(CHAT, 'telegram:1');
    const before = await a.chatOrder!.enter(CHAT, 'telegram:2'); // a live turn, waiting behind the first
    await pairs.loseData();
    const owing = new Set(['telegram:1', 'telegram:2', 'telegram:3']);
    const goneOnes = new Set(['telegram:1', 'telegram:3']);
    dying.chatOrder!.rebuildFrom!(claimsOf(owing, goneOnes, new Promise<void>(() => undefined)));
    for (const c of [a, b]) c.chatOrder!.rebuildFrom!(claimsOf(owing, goneOnes));
    await dying.chatOrder!.enter(CHAT, 'telegram:3'); // starts the new line, and asks the database
    await dying.close(); // and dies before the answer, with the first and third messages
    const lineA = lineAsking(a, owing);
    const lineB = lineAsking(b, owing);
    const seen: string[] = [];
    const runs = runsInto(seen);
    const second = runs(lineA, 'second', { ticket: Promise.resolve(before) });
    await new Promise((r) => setTimeout(r, 6000)); // past the dead turn's mark
    expect(seen).toEqual([]);
    const first = runs(lineB, 'first', platformPlace(b.chatOrder!, CHAT, 'telegram:1', Promise.resolve(true)));
    const third = runs(lineB, 'third', platformPlace(b.chatOrder!, CHAT, 'telegram:3', Promise.resolve(true)));
    await answeredInOrder(owing, [[first, 'telegram:1'], [second, 'telegram:2'], [third, 'telegram:3']]);
    expect(seen).toEqual(['first runs', 'second runs', 'third runs']);
  });

  it("is not passed by its message's duplicate arrival, which has nothing to send, so the chat's later reply still waits for the message", async () => {
    await liveReplyBeforeNextOne(pairs, async (b, lineB) => {
      // The platform delivers the second message again to B, whose claim is still A's: a duplicate.
      const duplicate = new ReplyStream();
      const dropped = duplicate.holdDelivery();
      const answers = Promise.resolve(false);
      await lineB(CHAT, async () => duplicate.end(), { ...platformPlace(b.chatOrder!, CHAT, 'telegram:2', answers), out: duplicate, answers });
      await duplicate.collect();
      dropped();
    });
  });
});
