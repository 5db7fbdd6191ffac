import type { KeyedSerialQueue } from '../../core/serial.js';
import type { Logger } from '../../log.js';
import type { ChatOrder, ChatTicket } from '../limits.js';
import type { MessageContext, Step, TurnContext } from '../pipeline.js';
import { serialKeyFor } from '../scoping.js';

/**
 * One turn at a time per chat, in arrival order: the rest of the chain runs in the chat's queue.
 * A platform message queues on its chat (known on arrival, before its conversation is); an API
 * or scheduled turn on its conversation's chat — the same key, so a proactive message and a
 * reply in one chat never overlap. Enqueueing is synchronous: arrival order is call order.
 *
 * With several instances, the chat's line is shared too (`order`): a platform message took its
 * place when it arrived (`ticket`), anything else takes it when its turn comes in this process.
 */
export function serialize(line: ChatLine): Step {
  return (ctx, next) => {
    const key = keyOf(ctx);
    // A turn started from inside this chat's running turn (`/admin proactive test`) would wait
    // behind the turn that waits for it: it runs in that turn's place instead.
    if (ctx.inLine === key) return next();
    return line(key, next, ctx.source === 'platform' ? (ctx as MessageContext).ticket : undefined);
  };
}

export type ChatLine = <T>(key: string, task: () => Promise<T>, ticket?: Promise<ChatTicket>) => Promise<T>;

/**
 * Run `task` alone in chat `key`: after the chat's earlier tasks in this process and, with an
 * `order`, after its earlier turns on every instance.
 */
export function inChatLine(queue: KeyedSerialQueue, order?: ChatOrder, log?: Logger): ChatLine {
  return <T>(key: string, task: () => Promise<T>, ticket?: Promise<ChatTicket>): Promise<T> => {
    if (!order) {
      void ticket?.then((t) => t.leave(), () => undefined);
      return queue.run(key, task);
    }
    const place = ticket ?? undefined;
    return queue.run(key, async () => {
      let t: ChatTicket | undefined;
      try {
        t = await (place ?? order.enter(key));
        await t.wait();
      } catch (err) {
        // Order across instances is lost while Redis is unreachable; the claim still keeps every
        // message answered once, so the turn goes on rather than failing.
        log?.error({ err, chat: key }, 'the chat line is unavailable; running the turn without it');
      }
      try {
        return await task();
      } finally {
        await t?.leave();
      }
    });
  };
}

function keyOf(ctx: TurnContext): string {
  if (ctx.source === 'platform') return (ctx as MessageContext).serialKey;
  if (!ctx.conversation) throw new Error('serialize needs the conversation');
  return serialKeyFor(ctx.conversation);
}
