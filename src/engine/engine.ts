import { encodeKey } from '../core/conversation-key.js';
import type { InboundMessage, Platform, ReplyEvent } from '../core/types.js';
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
  /** Event keys being handled by this process (a redelivery mid-turn is a duplicate). */
  private readonly eventsInFlight = new Set<string>();
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

  /**
   * Handle one platform message. The event is claimed in the store at once — with the message
   * itself, so a crash mid-turn leaves it for `recover` — and `out.accepted` resolves when that
   * is on disk. The turn then waits for its chat's earlier turns. The stream ends with nothing
   * when the message is a duplicate or ignored.
   */
  handle(msg: InboundMessage): ReplyStream {
    const out = new ReplyStream();
    if (!this.accepting) {
      out.end();
      return out;
    }
    const eventKey = `${msg.platform}:${msg.eventId}`;
    const claimed = msg.fromBot ? Promise.resolve(false) : this.claim(msg, eventKey);
    void claimed.then(
      () => out.accept(),
      () => out.accept(),
    );
    const ctx: TurnContext = {
      msg,
      deps: this.deps,
      out,
      chatKey: chatKeyFor(msg),
      bindingKeys: bindingKeysFor(msg),
      isAdmin: this.isAdmin(msg.platform, msg.userId, msg.senderIsAdmin),
      chatType: msg.chatType,
      claimed,
      finishEvent: async () => {
        try {
          await this.deps.store.events.complete(msg.platform, msg.eventId);
        } finally {
          this.eventsInFlight.delete(eventKey);
        }
      },
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
   * Answer platform messages a previous process accepted but never finished (it crashed): each
   * is run through the pipeline again — its stored user message is reused, not duplicated — and
   * what it produced goes to `deliver` (the adapter's proactive-style send). Returns how many.
   */
  async recover(deliver: (msg: InboundMessage, events: ReplyEvent[]) => Promise<void>, limit = 100): Promise<number> {
    const { store, clock, config, log } = this.deps;
    let n = 0;
    for (const row of await store.events.abandoned(clock.now(), config.eventLeaseMs, limit)) {
      let msg: InboundMessage;
      try {
        msg = JSON.parse(row.payload) as InboundMessage;
      } catch {
        await store.events.complete(row.platform, row.eventId);
        continue;
      }
      const events = await this.handle(msg).collect();
      if (!events.length) continue;
      try {
        await deliver(msg, events);
        n++;
      } catch (err) {
        log.warn({ err, platform: msg.platform, eventId: msg.eventId }, 'could not deliver a recovered reply');
      }
    }
    return n;
  }

  /** Claim (platform, event id) for this process, storing the message with the claim. */
  private async claim(msg: InboundMessage, eventKey: string): Promise<boolean> {
    if (this.eventsInFlight.has(eventKey)) return false;
    this.eventsInFlight.add(eventKey);
    const { store, clock, config } = this.deps;
    const { raw: _raw, ...durable } = msg;
    try {
      const ok = await store.events.claim(msg.platform, msg.eventId, clock.now(), config.eventLeaseMs, JSON.stringify(durable));
      if (!ok) this.eventsInFlight.delete(eventKey);
      return ok;
    } catch (err) {
      this.eventsInFlight.delete(eventKey);
      throw err;
    }
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
