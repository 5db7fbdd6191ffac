import type { KeyedSerialQueue } from '../../core/serial.js';
import type { MessageContext, Step, TurnContext } from '../pipeline.js';
import { serialKeyFor } from '../scoping.js';

/**
 * One turn at a time per chat, in arrival order: the rest of the chain runs in the chat's queue.
 * A platform message queues on its chat (known on arrival, before its conversation is); an API
 * or scheduled turn on its conversation's chat — the same key, so a proactive message and a
 * reply in one chat never overlap. Enqueueing is synchronous: arrival order is call order.
 */
export function serialize(queue: KeyedSerialQueue): Step {
  return (ctx, next) => queue.run(keyOf(ctx), next);
}

function keyOf(ctx: TurnContext): string {
  if (ctx.source === 'platform') return (ctx as MessageContext).serialKey;
  if (!ctx.conversation) throw new Error('serialize needs the conversation');
  return serialKeyFor(ctx.conversation);
}
