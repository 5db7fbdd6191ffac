import { encodeKey } from '../core/conversation-key.js';
import type { InboundMessage, Platform } from '../core/types.js';
import type { EngineDeps } from './deps.js';
import { compose, type Step, type TurnContext } from './pipeline.js';
import { ReplyStream } from './reply-stream.js';
import { KeyedSerialQueue } from '../core/serial.js';
import { bindingKeysFor, chatKeyFor } from './scoping.js';
import { createCommandRegistry, type Command } from './commands/index.js';
import { ignoreBots } from './steps/filter.js';
import { dedupe } from './steps/dedupe.js';
import { resolveConversation } from './steps/resolve.js';
import { commandStep } from './steps/command.js';
import { engagement } from './steps/engage.js';
import { unsupportedMedia } from './steps/media.js';
import { rateLimit } from './steps/limit.js';
import { respond } from './steps/respond.js';
import { runTurn, type TurnInput, type TurnResult } from './turn.js';

export interface EngineOptions {
  /** Commands beyond the built-ins (e.g. `proactive`). */
  commands?: Command[];
}

/**
 * The conversation engine. Platform messages go through `handle`, HTTP and scheduler turns
 * through `turn`; both run one at a time per conversation, in arrival order, and stream their
 * output as a ReplyStream.
 *
 * @example
 * const out = engine.handle(inbound);
 * for await (const e of out) if (e.type === 'delta') draft += e.text;
 */
export class Engine {
  readonly commands: Map<string, Command>;
  private readonly pipeline: (ctx: TurnContext) => Promise<void>;
  private readonly queue = new KeyedSerialQueue();
  private readonly inFlight = new Set<Promise<unknown>>();
  private accepting = true;

  constructor(readonly deps: EngineDeps, opts: EngineOptions = {}) {
    this.commands = createCommandRegistry(opts.commands);
    const steps: Step[] = [
      ignoreBots,
      dedupe,
      resolveConversation,
      commandStep(this.commands),
      engagement,
      unsupportedMedia,
      rateLimit,
      respond,
    ];
    this.pipeline = compose(steps);
  }

  /** Handle one platform message. The stream ends with nothing when the message is ignored. */
  handle(msg: InboundMessage): ReplyStream {
    const out = new ReplyStream();
    if (!this.accepting) {
      out.end();
      return out;
    }
    const ctx: TurnContext = {
      msg,
      deps: this.deps,
      out,
      chatKey: chatKeyFor(msg),
      bindingKeys: bindingKeysFor(msg),
      isAdmin: this.isAdmin(msg.platform, msg.userId, msg.senderIsAdmin),
      chatType: msg.chatType,
    };
    const serialKey = encodeKey({ platform: msg.platform, chatId: msg.chatId, ...(msg.threadId !== undefined ? { threadId: msg.threadId } : {}) });
    this.track(
      this.queue
        .run(serialKey, () => this.pipeline(ctx))
        .catch((err: unknown) => {
          this.deps.log.error({ err, platform: msg.platform, chatId: msg.chatId }, 'turn failed unexpectedly');
          out.push({ type: 'notice', text: 'Something went wrong on my side. Please try again.', reason: 'command' });
        })
        .finally(() => out.end()),
    );
    return out;
  }

  /**
   * Run a model turn in a known conversation (HTTP API, scheduler), serialized with every other
   * turn of that conversation. The stream ends when the turn has been persisted.
   */
  turn(input: TurnInput, out: ReplyStream = new ReplyStream()): { stream: ReplyStream; result: Promise<TurnResult> } {
    const result = this.queue.run(`conv:${input.conversation.id}`, () => runTurn(this.deps, input, out));
    this.track(result.finally(() => out.end()));
    return { stream: out, result };
  }

  /** Run any task serialized with the turns of a conversation (clear, delete, proactive claim). */
  serialized<T>(conversationId: string, task: () => Promise<T>): Promise<T> {
    const p = this.queue.run(`conv:${conversationId}`, task);
    this.track(p);
    return p;
  }

  /** Platform admins, or anyone listed in ADMIN_USER_IDS as `platform:userId`. */
  isAdmin(platform: Platform, userId: string, senderIsAdmin: boolean): boolean {
    return senderIsAdmin || this.deps.config.adminUserIds.includes(`${platform}:${userId}`);
  }

  /** Stop taking new messages (shutdown); in-flight turns continue. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Wait for in-flight turns, up to `timeoutMs`; true when all finished. */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    const all = Promise.allSettled([...this.inFlight]).then(() => true as const);
    const done = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return done;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private track(p: Promise<unknown>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
  }
}
