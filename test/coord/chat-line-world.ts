/**
 * The parts the chat-line tests share: two or three instances' lines through Redis, turns whose
 * replies an adapter reads into `seen`, and what the database says of a chat's unfinished messages.
 */
import { expect } from 'vitest';
import { KeyedSerialQueue } from '../../src/core/serial.js';
import { ReplyStream } from '../../src/engine/reply-stream.js';
import { inChatLine, platformPlace, type ChatLine, type LinePlace } from '../../src/engine/steps/serialize.js';
import type { coordinationPairs } from '../helpers/coordinations.js';
import type { Coordination } from '../../src/coord/index.js';
import type { ChatOrder, UnfinishedMessages } from '../../src/engine/limits.js';

export const CHAT = 'telegram:1:chat:-100777';

/** Read a reply as an adapter does: note its first event, then report it delivered when told. */
export function adapter(out: ReplyStream, seen: string[], name: string) {
  let deliver!: () => void;
  const told = new Promise<void>((r) => (deliver = r));
  const delivered = out.holdDelivery();
  const read = (async () => {
    let first = true;
    for await (const e of out) {
      if (first) seen.push(`${name} reply reaches its adapter`);
      first = false;
      void e;
    }
    await told;
    seen.push(`${name} reply delivered`);
    delivered();
  })();
  return { deliver, read };
}

/**
 * Two instances' lines and two turns of one chat, the first place taken on A before the second on
 * B (on arrival, as the engine takes them), each with its reply read by an adapter into `seen`.
 */
export async function firstThenSecond(a: Coordination, b: Coordination) {
  const seen: string[] = [];
  const first = a.chatOrder!.enter(CHAT);
  await first;
  const second = b.chatOrder!.enter(CHAT);
  const out1 = new ReplyStream();
  const out2 = new ReplyStream();
  return {
    seen, first, second, out1, out2,
    lineA: inChatLine(new KeyedSerialQueue(), a.chatOrder),
    lineB: inChatLine(new KeyedSerialQueue(), b.chatOrder),
    sending1: adapter(out1, seen, 'first'),
    sending2: adapter(out2, seen, 'second'),
  };
}

/** An instance's line (its own process queue) that asks `owing` whether a message still owes its reply. */
export function lineAsking(c: Coordination, owing: Set<string>): ChatLine {
  return inChatLine(new KeyedSerialQueue(), c.chatOrder, undefined, undefined, async (eventKey) => owing.has(eventKey));
}

/**
 * Two instances' lines that ask `owing` whether a message still owes its reply (the chat's first,
 * `telegram:1`, does), with the chat's first place taken on A before its second on B.
 */
export async function firstOwingThenSecond(pairs: ReturnType<typeof coordinationPairs>) {
  const [a, b] = await pairs.two();
  const owing = new Set(['telegram:1']);
  const lineA = lineAsking(a, owing);
  const lineB = lineAsking(b, owing);
  const first = a.chatOrder!.enter(CHAT, 'telegram:1');
  await first;
  const second = b.chatOrder!.enter(CHAT, 'telegram:2');
  return { a, b, owing, lineA, lineB, seen: [] as string[], first, second };
}

/**
 * A turn in `line` that hands its place on to its message (as the dedupe step does for a duplicate
 * arrival, or the engine for a message given to the recovery sweep) and ends with nothing to show;
 * its adapter is told to report delivery at once.
 */
export async function handedOffTurn(line: ChatLine, place: Omit<LinePlace, 'out'>, seen: string[], name: string) {
  const out = new ReplyStream();
  const sending = adapter(out, seen, name);
  sending.deliver();
  await line(CHAT, async () => {
    out.handOff();
    out.end();
  }, { ...place, out });
  return sending;
}

/** Like `replyingTurn`, but noting `<name> message runs` in `seen` as its task starts, and not waiting for it: `ran` settles once it ran. */
export function noteRunning(line: ChatLine, place: Omit<LinePlace, 'out'>, seen: string[], name: string) {
  const out = new ReplyStream();
  const sending = adapter(out, seen, name);
  const ran = line(CHAT, async () => {
    seen.push(`${name} message runs`);
    out.push({ type: 'delta', text: `${name} reply` });
    out.end();
  }, { ...place, out });
  return { ran, ...sending };
}

/** A turn in `line` whose reply an adapter reads into `seen` as `name`'s; resolves once it ran, with that adapter. */
export async function replyingTurn(line: ChatLine, place: Omit<LinePlace, 'out'>, seen: string[], name: string) {
  const out = new ReplyStream();
  const sending = adapter(out, seen, name);
  await line(CHAT, async () => {
    out.push({ type: 'delta', text: `${name} reply` });
    out.end();
  }, { ...place, out });
  return sending;
}

/**
 * What the database says of the chat's unfinished messages (`EventRepo.unfinishedInChat`): those
 * in `owing` other than the asking turn's own, in arrival order, each saying whether it came after
 * that one; answered once `ready` resolves. `ownerGone` is true for all, or names the gone ones.
 */
export function claimsOf(owing: Set<string>, ownerGone: boolean | Set<string>, ready: Promise<void> = Promise.resolve()): UnfinishedMessages {
  return async (key, q) => {
    await ready;
    if (key !== CHAT) return [];
    const all = [...owing];
    const own = q.ownEventKey === undefined ? all.length : all.indexOf(q.ownEventKey);
    const gone = (e: string) => (typeof ownerGone === 'boolean' ? ownerGone : ownerGone.has(e));
    return all.filter((e) => e !== q.ownEventKey).map((eventKey) => ({ eventKey, ownerGone: gone(eventKey), afterOwn: own >= 0 && all.indexOf(eventKey) > own }));
  };
}

/**
 * The chat's first message waits on an instance that dies, its second behind it on a live one (A),
 * and Redis loses the line. The sweep on B takes the first over, which starts the line afresh, and
 * delivers it; `meanwhile` runs next. Then, while the second reply waits for its platform's send
 * window, the chat's third message enters the new line on B: its reply must wait for the second's.
 */
export async function liveReplyBeforeNextOne(pairs: ReturnType<typeof coordinationPairs>, meanwhile?: (b: Coordination, lineB: ChatLine) => Promise<void>) {
  const [dying, a, b] = await pairs.three();
  await dying.chatOrder!.enter(CHAT, 'telegram:1');
  const before = await a.chatOrder!.enter(CHAT, 'telegram:2');
  await dying.close();
  await pairs.loseData();
  const owing = new Set(['telegram:1', 'telegram:2']);
  for (const c of [a, b]) c.chatOrder!.rebuildFrom!(claimsOf(owing, new Set(['telegram:1'])));
  const lineA = lineAsking(a, owing);
  const lineB = lineAsking(b, owing);
  const seen: string[] = [];
  // The live turn's place is gone: it waits, as the database says, for the first message.
  const second = replyingTurn(lineA, { ticket: Promise.resolve(before) }, seen, 'second');
  const taken = await replyingTurn(lineB, platformPlace(b.chatOrder!, CHAT, 'telegram:1', Promise.resolve(true)), seen, 'taken-over');
  taken.deliver();
  await taken.read;
  owing.delete('telegram:1');
  await meanwhile?.(b, lineB);
  const waiting = await second;
  await laterReplyWaitsFor({ waiting, waitingKey: 'telegram:2', waitingName: 'second', line: lineB, order: b.chatOrder!, laterKey: 'telegram:3', laterName: 'third', owing, seen, seenBefore: ['taken-over reply reaches its adapter', 'taken-over reply delivered'] });
}

/**
 * While `waiting`'s reply waits for its platform's send window, the chat's next message enters
 * the line: its reply reaches its adapter only once the waiting one is delivered. `seenBefore` is
 * what `seen` holds before the waiting reply reached its adapter.
 */
export async function laterReplyWaitsFor(o: { waiting: ReturnType<typeof adapter>; waitingKey: string; waitingName: string; line: ChatLine; order: ChatOrder; laterKey: string; laterName: string; owing: Set<string>; seen: string[]; seenBefore: string[] }) {
  o.owing.add(o.laterKey);
  const later = replyingTurn(o.line, { ticket: o.order.enter(CHAT, o.laterKey) }, o.seen, o.laterName);
  await new Promise((r) => setTimeout(r, 1000));
  expect(o.seen).toEqual([...o.seenBefore, `${o.waitingName} reply reaches its adapter`]);
  o.waiting.deliver();
  await o.waiting.read;
  o.owing.delete(o.waitingKey);
  const sending = await later;
  sending.deliver();
  await sending.read;
  expect(o.seen.slice(o.seenBefore.length + 1)).toEqual([`${o.waitingName} reply delivered`, `${o.laterName} reply reaches its adapter`, `${o.laterName} reply delivered`]);
}

/** A turn in `line` that notes `<name> runs` in `seen` when it runs. */
export function runsInto(seen: string[]) {
  return (line: ChatLine, name: string, place: Omit<LinePlace, 'out'> & { out?: ReplyStream }) => line(CHAT, async () => void seen.push(`${name} runs`), place);
}

/**
 * The chat's first message waits on an instance that dies, its second behind it on a live one (A,
 * whose place is `before`), and Redis loses the line. A and B rebuild from `owing` (`keys`; only
 * the first message's owner is gone), asking whether a message still owes its reply of it too.
 */
export async function liveTurnAfterLoss(pairs: ReturnType<typeof coordinationPairs>, keys: string[]) {
  const [dying, a, b] = await pairs.three();
  await dying.chatOrder!.enter(CHAT, 'telegram:1');
  const before = await a.chatOrder!.enter(CHAT, 'telegram:2'); // a live turn, waiting behind the first
  await dying.close(); // dies with the first message
  await pairs.loseData(); // and the line, with both places, is gone
  const owing = new Set(keys);
  for (const c of [a, b]) c.chatOrder!.rebuildFrom!(claimsOf(owing, new Set(['telegram:1'])));
  const seen: string[] = [];
  return {
    a, b, before, owing, seen,
    lineA: lineAsking(a, owing),
    lineB: lineAsking(b, owing),
    runs: runsInto(seen),
  };
}

/** Wait for each turn in order, its message then owing nothing more. */
export async function answeredInOrder(owing: Set<string>, turns: Array<[Promise<unknown>, string]>) {
  for (const [turn, eventKey] of turns) {
    await turn;
    owing.delete(eventKey);
  }
}
