import type { KeyedSerialQueue } from '../../core/serial.js';
import type { Logger } from '../../log.js';
import { StoreUnavailableError } from '../../core/errors.js';
import { reachableStopwatch, type ChatOrder, type ChatTicket, type OwedCheck } from '../limits.js';
import type { MessageContext, Step, TurnContext } from '../pipeline.js';
import type { ReplyStream } from '../reply-stream.js';
import { serialKeyFor } from '../scoping.js';

/**
 * One turn at a time per chat, in arrival order: the rest of the chain runs in the chat's queue.
 * A platform message queues on its chat (known on arrival, before its conversation is); an API
 * or scheduled turn on its conversation's chat — the same key, so a proactive message and a
 * reply in one chat never overlap. Enqueueing is synchronous: arrival order is call order.
 *
 * With several instances, the chat's line is shared too (`order`): a platform message took its
 * place when it arrived (`ticket`), anything else takes it when its turn comes in this process.
 * A place has two parts: running (left once the reply is stored, so the next turn's model call
 * overlaps this reply's sending) and sending (left once this reply is delivered). A platform
 * turn's reply reaches its adapter only when every earlier turn of the chat has left sending, so
 * a reply waiting for the chat's send window on one instance is not overtaken by the next turn's
 * reply on another.
 */
export function serialize(line: ChatLine): Step {
  return (ctx, next) => {
    const key = keyOf(ctx);
    // A turn started from inside this chat's running turn (`/admin proactive test`) would wait
    // behind the turn that waits for it: it runs in that turn's place instead.
    if (ctx.inLine === key) return next();
    if (ctx.source !== 'platform') return line(key, next);
    const m = ctx as MessageContext;
    return line(key, next, { ticket: m.ticket, out: ctx.out, answers: m.claimed, ...(m.placeTakenBack ? { takenBack: m.placeTakenBack } : {}) });
  };
}

/** A platform turn's place in the shared line: taken on arrival; its sending part is given back once `out` is delivered. */
export interface LinePlace {
  ticket?: Promise<ChatTicket> | undefined;
  out?: Pick<ReplyStream, 'delivered' | 'holdUntil' | 'handedOff'> | undefined;
  /**
   * Resolves true when the ticket is an earlier place taken over from a dead instance, or was moved
   * by a fresh line's rebuild (in front of its first place, or behind messages that arrived before
   * it): the turns queued here for the chat may then hold places in front of it, or behind it that
   * wait for it, in the shared line, so the turn leaves this process's queue (behind them, it would
   * wait for them while they wait for it; in front of them, they would wait for it while it waits
   * for them). Its turn in the queue waits until this is known.
   */
  takenBack?: Promise<boolean> | undefined;
  /**
   * Resolves false when this arrival is not the one to answer its message (a duplicate: another
   * instance holds its claim). Its turn then has nothing to send and does not wait to send: that
   * wait passes an earlier place of the turn's own message, which stands for the instance that
   * does answer it, and the chat's later replies would no longer wait for that answer.
   */
  answers?: Promise<boolean> | undefined;
}

/**
 * A platform message's place in its chat's shared line, taken on arrival (`eventKey` records it).
 * When this arrival's claim holds (`claimed`: taken over from a dead instance, delivered again by
 * the platform or found by the sweep; or new, after an earlier arrival that died before recording
 * it) and the line recorded an earlier place for the message, that place is held again if the
 * line has not passed it: the message keeps its turn before the chat's later messages, and the
 * place taken here on arrival is let go. The arrival place is taken at once,
 * in call order, which is the order of this process's queue: taken only once the claim comes
 * back, a sweep's messages whose claims came back out of order would hold places in the reverse
 * order of their queue, each waiting for the other.
 */
export function platformPlace(
  order: ChatOrder,
  key: string,
  eventKey: string,
  claimed: Promise<boolean>,
  log?: Logger,
  arrivedAt?: number,
): { ticket: Promise<ChatTicket>; takenBack: Promise<boolean> } {
  const arrival = order.enter(key, eventKey, arrivedAt);
  const adopting = claimed.then(
    async (yes) => {
      if (!yes) return undefined;
      // This arrival recorded the event's first place: the line kept none for it to take back.
      const mine = await arrival.catch(() => undefined);
      if (mine?.firstForEvent) return undefined;
      return order.adopt(key, eventKey, mine).catch((err: unknown) => {
        log?.warn({ err, chat: key }, 'could not take over the place of a message taken over; it goes to the end of its chat line');
        return undefined;
      });
    },
    () => undefined,
  );
  // An earlier place taken back, or this arrival's place moved in front of a fresh line's first one.
  const takenBack = adopting.then(async (t) => t !== undefined || ((await arrival.catch(() => undefined))?.movedAhead ?? false));
  const ticket = Promise.allSettled([arrival]).then(async ([mine]) => {
    const earlier = await adopting;
    if (mine.status === 'rejected') {
      if (earlier) return earlier;
      throw mine.reason;
    }
    if (!earlier) return mine.value;
    void mine.value.leave({ sent: true }).catch(() => undefined);
    return earlier;
  });
  return { ticket, takenBack };
}

export type ChatLine = <T>(key: string, task: () => Promise<T>, place?: LinePlace) => Promise<T>;

/**
 * The longest a turn keeps its sending place after its task, waiting for its reply's delivery. An
 * adapter reports delivery even when sending finally failed; this bounds a consumer that never
 * reads the reply, at the cost of order only.
 */
export const MAX_DELIVERY_HOLD_MS = 120_000;

/**
 * Run `task` alone in chat `key`: after the chat's earlier tasks in this process and, with an
 * `order`, after its earlier turns on every instance. `owed` says whether a platform message
 * (by event key) still owes its reply: a reply waits for an earlier one whose holder died while
 * it does (see `ChatTicket.waitToSend`).
 */
export function inChatLine(queue: KeyedSerialQueue, order?: ChatOrder, log?: Logger, maxHoldMs = MAX_DELIVERY_HOLD_MS, owed?: OwedCheck): ChatLine {
  return <T>(key: string, task: () => Promise<T>, place: LinePlace = {}): Promise<T> => {
    if (!order) {
      void place.ticket?.then((t) => t.leave({ sent: true }), () => undefined);
      return queue.run(key, task);
    }
    const inOrder = async () => {
      let t: ChatTicket | undefined;
      try {
        t = await (place.ticket ?? order.enter(key));
        // A duplicate arrival (another instance answers its message) runs nothing and sends
        // nothing, so it does not wait in the line: a look at it would pass (and let the chat's
        // later turns pass) a dead holder's place, or delete its own message's record, which
        // stands for the instance answering it. Its place is left (or kept for the message) below.
        const answering = place.answers ? await place.answers.catch(() => false) : true;
        if (answering) await t.wait(owed);
      } catch (err) {
        // Order across instances is lost while Redis is unreachable; the claim still keeps every
        // message answered once, so the turn goes on rather than failing.
        log?.error({ err, chat: key }, 'the chat line is unavailable; running the turn without it');
      }
      const out = place.out;
      const ticket = t;
      if (ticket && out) {
        const waitToSend = () => ticket.waitToSend(owed).catch((err: unknown) => log?.error({ err, chat: key }, 'the chat line is unavailable; sending the reply without waiting for earlier ones'));
        out.holdUntil(place.answers ? place.answers.then((yes) => (yes ? waitToSend() : undefined), () => undefined) : waitToSend());
      }
      let thrown: unknown;
      try {
        return await task();
      } catch (err) {
        thrown = err;
        throw err;
      } finally {
        // A place handed on to stand for its message (a duplicate arrival's that is the first the
        // line recorded for it, `dedupe`), or that may be (the database dropped under the turn: the
        // engine hands the message to the recovery sweep once the error reaches it), keeps its
        // running part too, so the chat's later turns do not run (and store their messages, and
        // show them to the model) before that message's answer. Decided with the sending part, below.
        const mayHandOff = out !== undefined && (out.handedOff || thrown instanceof StoreUnavailableError);
        if (!mayHandOff) await t?.leave({ sent: !out });
        // The reply is delivered after the chain ends (the adapter reads the stream), so the sending
        // place is given back from outside this process's queue: awaiting it here would wait for itself.
        if (t && out) void sentWhenDelivered(t, out, maxHoldMs, key, log, mayHandOff, owed?.downtime);
      }
    };
    return place.takenBack ? queuedOrAhead(queue, key, inOrder, place.takenBack) : queue.run(key, inOrder);
  };
}

/**
 * `task` in the chat's queue, or outside it once `ahead` resolves true: its turn in the queue
 * waits until `ahead` is known, so a place the rebuild moved behind the chat's later turns queued
 * here never holds them up while it waits for them in the shared line.
 */
function queuedOrAhead<T>(queue: KeyedSerialQueue, key: string, task: () => Promise<T>, ahead: Promise<boolean>): Promise<T> {
  let started = false;
  return new Promise<T>((resolve, reject) => {
    const start = () => {
      started = true;
      return task().then(resolve, reject);
    };
    void ahead.then((yes) => (yes && !started ? start() : undefined), () => undefined);
    // Its turn in the queue, once it went ahead, passes at once: the chat's later turns wait in the shared line.
    void queue.run(key, async () => {
      const wentAhead = await ahead.catch(() => false);
      return started || wentAhead ? undefined : start();
    });
  });
}

/** `running`: the turn still holds its running part too (see `inChatLine`), given up or kept with the sending part. */
async function sentWhenDelivered(
  t: ChatTicket,
  out: Pick<ReplyStream, 'delivered' | 'handedOff'>,
  maxHoldMs: number,
  key: string,
  log: Logger | undefined,
  running: boolean,
  downtime: (() => number) | undefined,
): Promise<void> {
  const { delivered } = out;
  let timer: NodeJS.Timeout | undefined;
  const capped = new Promise<void>((resolve) => {
    // The database's time away does not count: a delivery waits on it too (its send notes).
    const since = Date.now();
    const waited = reachableStopwatch(downtime);
    const arm = (ms: number) => {
      timer = setTimeout(() => {
        const left = maxHoldMs - waited();
        if (left > 0) return arm(left);
        log?.warn({ chat: key, waitedMs: Date.now() - since }, "a reply was not delivered in time; the chat's next reply goes without waiting for it");
        resolve();
      }, ms);
      timer.unref();
    };
    arm(maxHoldMs);
  });
  try {
    await Promise.race([delivered, capped]);
  } finally {
    clearTimeout(timer);
    // A message handed to the recovery sweep keeps its place for the one who answers it.
    if (out.handedOff) t.abandon();
    else if (running) await t.leave({ sent: true });
    else await t.sent();
  }
}

function keyOf(ctx: TurnContext): string {
  if (ctx.source === 'platform') return (ctx as MessageContext).serialKey;
  if (!ctx.conversation) throw new Error('serialize needs the conversation');
  return serialKeyFor(ctx.conversation);
}
