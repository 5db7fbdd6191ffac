import type { MessageHandler } from '../core/adapter.js';
import type { CommandMenu } from '../core/command-menu.js';
import { isCharbridgeError, StoreUnavailableError } from '../core/errors.js';
import { KeyedSerialQueue } from '../core/serial.js';
import type { TaskTracker } from '../core/tasks.js';
import type { Character, Conversation, InboundMessage, Platform, ReplyEvent } from '../core/types.js';
import type { EngineDeps, MessageListener, MessageWriter } from './deps.js';
import type { AbandonedEvent } from '../store/index.js';
import type { ContextProvider } from './context-blocks.js';
import { compose, type MessageContext, type Step, type TurnContext } from './pipeline.js';
import { ReplyStream } from './reply-stream.js';
import type { StartedTurn, TurnRequest, TurnResult } from './request.js';
import { owedReply, unfinishedInChat } from './chat-claims.js';
import { bindingKeysFor, bindingKeysForScope, chatKeyFor, serialKeyFor } from './scoping.js';
import { resolveCharacter } from './characters.js';
import { commandMenu, createCommandRegistry, type Command } from './commands/index.js';
import { ignoreBots } from './steps/filter.js';
import { dedupe } from './steps/dedupe.js';
import { resolveConversation } from './steps/resolve.js';
import { applyPersona } from './steps/persona.js';
import { commandStep } from './steps/command.js';
import { engagement } from './steps/engage.js';
import { unsupportedMedia } from './steps/media.js';
import { limit } from './steps/limit.js';
import { admit } from './steps/admit.js';
import { inChatLine, MAX_DELIVERY_HOLD_MS, platformPlace, serialize, type ChatLine } from './steps/serialize.js';
import { fitContext } from './steps/fit.js';
import { persist } from './steps/persist.js';
import { respond } from './steps/respond.js';
import { encodeKey } from '../core/conversation-key.js';
import { turnFinished, type TurnListener } from './turn-events.js';

export interface EngineOptions {
  /** Commands beyond the built-ins. */
  commands?: Command[];
}

/**
 * The conversation engine. Platform messages come in through `handle`, HTTP and scheduled turns
 * through `turn`; every turn passes one chain of small steps — admission (limits, credits), one
 * at a time per chat in arrival order, persist, respond — and streams its output as a
 * ReplyStream. Stored messages are announced to subscribers (`onMessage`).
 *
 * @example
 * const out = engine.handle(inbound);
 * for await (const e of out) if (e.type === 'delta') draft += e.text;
 */
export class Engine implements MessageHandler {
  readonly commands: Map<string, Command>;
  private readonly platformChain: (ctx: MessageContext) => Promise<void>;
  private readonly requestChain: (ctx: TurnContext) => Promise<void>;
  private readonly queue = new KeyedSerialQueue();
  /**
   * One instance: per chat, the last recovered reply still being delivered. A newer message's
   * reply waits for it (its turn does not), so replies keep the order of their messages.
   */
  private readonly recoveredReplies = new Map<string, Promise<void>>();
  /** The chat's line: this process's queue, and the one shared by instances when there are several. */
  private readonly line: ChatLine;
  private readonly tasks: TaskTracker;
  /** Event keys being handled by this process (a redelivery mid-turn is a duplicate). */
  private readonly eventsInFlight = new Set<string>();
  private accepting = true;
  /** The last arrival time given to a claim: strictly increasing, so messages handled in one millisecond keep the order they came in. */
  private lastArrival = 0;
  private readonly turnListeners: TurnListener[] = [];

  constructor(private readonly deps: EngineDeps, opts: EngineOptions = {}) {
    this.commands = createCommandRegistry(opts.commands);
    this.tasks = deps.tasks;
    // A message is owed its reply while its claim is unfinished: a dead instance's is answered by
    // whoever takes it over, and the chat's later replies wait for it (within MAX_DELIVERY_HOLD_MS).
    this.line = inChatLine(this.queue, deps.chatOrder, deps.log, MAX_DELIVERY_HOLD_MS, Object.assign(owedReply(deps), { downtime: () => deps.store.downtime() }));
    // A chat's line that Redis lost is rebuilt from the claims: which of its messages came first
    // and still owe their replies.
    deps.chatOrder?.rebuildFrom?.(unfinishedInChat(deps));
    const inOrder = serialize(this.line);
    const platform: Array<Step<MessageContext>> = [
      inOrder,
      ignoreBots,
      dedupe,
      resolveConversation,
      applyPersona,
      engagement,
      // Commands count against the per-user limit too: a command answer is a message as well.
      limit,
      commandStep(this.commands),
      unsupportedMedia,
      fitContext,
      persist,
      respond,
    ];
    this.platformChain = compose(platform);
    this.requestChain = compose([limit, fitContext, admit, inOrder, persist, respond]);
  }

  /**
   * Handle one platform message. The event is claimed in the store at once — with the message
   * itself, so a crash mid-turn leaves it for `recover` — and `out.accepted` resolves when that
   * is on disk. The turn then waits for its chat's earlier turns. The stream ends with nothing
   * when the message is a duplicate or ignored.
   */
  handle(msg: InboundMessage, opts: { recovered?: boolean } = {}): ReplyStream {
    const out = new ReplyStream();
    if (!this.accepting) {
      out.end();
      return out;
    }
    const eventKey = `${msg.platform}:${msg.eventId}`;
    const serialKey = lineKeyOf(msg);
    // Its place in the chat's line is taken now, on arrival, and the platform is told the message
    // was accepted only once it has one: a later message of the chat, delivered to any instance,
    // then always runs after it.
    const order = this.deps.chatOrder && !msg.fromBot ? this.deps.chatOrder : undefined;
    let rerun = false;
    // Its arrival (`arrived_at`), what the recovery sweep and a rebuilt chat line order a chat's
    // messages by; the line is told it too, since its claim may land after a later message's.
    const arrivedAt = this.nextArrival();
    const outcome = msg.fromBot ? Promise.resolve('duplicate' as const) : this.claim(msg, eventKey, serialKey, arrivedAt);
    const claimed = outcome.then((o) => {
      rerun = o === 'retaken';
      return o !== 'duplicate';
    });
    // A message taken over from a dead instance (by the sweep, or delivered again by the platform),
    // or delivered again after an arrival that died before recording it, finds the place it took
    // on its first arrival, if the line still keeps it, and keeps it: it is answered before the
    // chat's later messages, not after them (nor held up by its own earlier place).
    const place = order && platformPlace(order, serialKey, eventKey, outcome.then((o) => o !== 'duplicate'), this.deps.log, arrivedAt);
    const ticket = place?.ticket;
    const earlierReply = opts.recovered ? undefined : this.recoveredReplies.get(serialKey);
    if (earlierReply) out.holdUntil(earlierReply);
    void (ticket ? Promise.all([claimed, ticket]) : claimed).then(
      () => out.accept(),
      (err: unknown) => out.refuse(err),
    );
    const ctx: MessageContext = {
      source: 'platform',
      deps: this.deps,
      out,
      msg,
      chatType: msg.chatType,
      userName: msg.userName || 'User',
      user: { text: msg.text, imageUrls: msg.imageUrls, authorId: msg.userId, authorName: msg.userName || null, sourceEvent: eventKey },
      chatKey: chatKeyFor(msg),
      serialKey,
      ...(place ? { ticket: place.ticket, placeTakenBack: place.takenBack } : {}),
      bindingKeys: bindingKeysFor(msg),
      isAdmin: this.isAdmin(msg.platform, msg.userId, msg.senderIsAdmin),
      claimed,
      get rerun() {
        return rerun;
      },
      // Answered for good only once the consumer has delivered the reply (an adapter sent it, or
      // gave up): a crash before leaves the claim, with the stored reply, to `recover`.
      finishEvent: () => {
        void out.delivered.then(() => {
          if (released) return;
          if (this.deps.answered) {
            const noting = this.deps.answered.note(eventKey).then(
              () => this.deps.log.debug({ eventKey }, 'noted a message answered'),
              (err: unknown) => this.deps.log.debug({ err, eventKey }, 'could not note a message answered'),
            );
            this.tasks.track(noting);
          }
          this.tasks.track(this.complete(msg, eventKey));
        });
      },
      admit: () => undefined,
    };
    const startedAt = this.deps.clock.now();
    let thrown: unknown;
    /** Handed to the recovery sweep: not finished here. */
    let released = false;
    this.tasks.track(
      this.platformChain(ctx)
        .catch(async (err: unknown) => {
          thrown = err;
          // The database dropped under the turn: the message is on disk, so it is answered again
          // by the next recovery sweep once the database is back, not apologised for.
          if (err instanceof StoreUnavailableError && (await claimed.catch(() => false)) && (await this.release(msg, eventKey))) {
            released = true;
            out.handOff();
            return;
          }
          this.deps.log.error({ err, platform: msg.platform, chatId: msg.chatId }, 'turn failed unexpectedly');
          out.push({ type: 'notice', text: 'Something went wrong on my side. Please try again.', reason: 'command' });
        })
        .finally(() => {
          this.emitTurn(ctx, startedAt, thrown);
          out.end();
        }),
    );
    return out;
  }

  /**
   * Run a model turn for the HTTP API or the scheduler. Admission (the payer's rate limit and
   * credits, then creating a new session) happens at once; the turn then waits for earlier turns
   * of its chat. `admitted` rejects with the refusal; `result` settles once the turn is persisted.
   */
  turn(req: TurnRequest): StartedTurn {
    const out = new ReplyStream();
    let admitted = false;
    let onAdmit!: (c: Conversation) => void;
    let onRefuse!: (err: unknown) => void;
    const admission = new Promise<Conversation>((resolve, reject) => {
      onAdmit = resolve;
      onRefuse = reject;
    });
    admission.catch(() => undefined); // a caller that only reads `result` sees the refusal there
    const ctx: TurnContext = {
      source: req.source,
      deps: this.deps,
      out,
      chatType: req.chatType,
      userName: req.userName,
      character: req.character,
      ...(typeof req.conversation === 'function' ? { createConversation: req.conversation } : { conversation: req.conversation }),
      ...(req.user ? { user: req.user } : {}),
      ...(req.payer ? { payer: req.payer } : {}),
      ...(req.durable ? { durable: req.durable } : {}),
      ...(req.replyKind ? { replyKind: req.replyKind } : {}),
      ...(req.replyKey ? { replyKey: req.replyKey } : {}),
      ...(req.instruction !== undefined ? { instruction: req.instruction } : {}),
      ...(req.accept ? { accept: req.accept } : {}),
      ...(req.alongside ? { alongside: req.alongside } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.persona ? { persona: req.persona, userName: req.persona.name ?? req.userName } : {}),
      ...(req.inLine !== undefined ? { inLine: req.inLine } : {}),
      admit: (c) => {
        admitted = true;
        onAdmit(c);
      },
    };
    const startedAt = this.deps.clock.now();
    const result: Promise<TurnResult> = this.requestChain(ctx).then(
      () => {
        this.emitTurn(ctx, startedAt);
        return ctx.result ?? Promise.reject(new Error('the turn ended without a result'));
      },
      (err: unknown) => {
        this.emitTurn(ctx, startedAt, err);
        if (admitted || !isCharbridgeError(err)) {
          if (!admitted) onRefuse(err);
          throw err;
        }
        onRefuse(err);
        return { ok: false, error: err, userMessage: undefined } as const;
      },
    );
    this.tasks.track(result.finally(() => out.end()));
    return { stream: out, admitted: admission, result, creditsOwedBack: () => ctx.creditsOwedBack };
  }

  /**
   * Answer platform messages a previous process accepted but never finished (it crashed before
   * its reply was delivered): each is run through the chain again — its stored user message and,
   * if the model had answered, its stored reply are reused, never asked for twice — and what it
   * produced goes to `deliver` (the adapter's proactive-style send); the message is answered for
   * good once `deliver` returned or failed. Chats are answered side by side, each chat's messages
   * one after another in the order they were claimed: a dead instance leaves a burst of them, and
   * one at a time each waited out the one before's send pacing. Returns how many were delivered.
   */
  async recover(deliver: (msg: InboundMessage, events: ReplyEvent[]) => Promise<void>, max = 100): Promise<number> {
    const { store, clock, config, log } = this.deps;
    let n = 0;
    await this.settleOwed();
    const rows = await store.events.abandoned({ now: clock.now(), deadAfterMs: config.deadAfterMs, leaseMs: config.eventLeaseMs, limit: max });
    const answer = async (msg: InboundMessage, out: ReplyStream, delivered: () => void) => {
      try {
        const events = await out.collect();
        if (!events.length) return; // a sweep running beside this one has it
        await deliver(msg, events);
        n++;
      } catch (err) {
        log.warn({ err, platform: msg.platform, eventId: msg.eventId }, 'could not deliver a recovered reply');
      } finally {
        delivered();
      }
    };
    // Every message is taken over here, before any reply is delivered: once claimed again it is
    // never listed by a later sweep, which can then run while a slow delivery (a rate-limited
    // platform) is still waiting here. Claimed in the order they came, their turns run in that
    // order per chat; deliveries go per chat in the same order. With a chat line across
    // instances, that order is the line's: a message that got its old place back goes before one
    // that could not (sent already, or the line had passed it) and queued anew, so delivering
    // in claim order here would wait for a place that waits for this delivery. Without a line
    // (one instance), the chat's newer messages hold their replies until these are delivered
    // (`recoveredReplies`): a webhook delivers them as soon as this process listens, before its
    // adapters have started, and their turns run meanwhile.
    const chats = this.deps.chatOrder ? undefined : new KeyedSerialQueue();
    const answered: Array<Promise<void>> = [];
    for (const row of rows.filter((r) => r.platform !== 'api')) {
      let msg: InboundMessage;
      try {
        msg = JSON.parse(row.payload) as InboundMessage;
      } catch {
        await store.events.complete(row.platform, row.eventId);
        continue;
      }
      const out = this.handle(msg, { recovered: true });
      const delivered = out.holdDelivery();
      if (!chats) {
        answered.push(answer(msg, out, delivered));
        continue;
      }
      const key = lineKeyOf(msg);
      const sent = chats.run(key, () => answer(msg, out, delivered));
      this.recoveredReplies.set(key, sent);
      void sent.finally(() => this.recoveredReplies.get(key) === sent && this.recoveredReplies.delete(key));
      answered.push(sent);
    }
    await Promise.all(answered);
    return n;
  }

  /** Hand a claimed message to the recovery sweep (see `EventRepo.release`); false when that cannot be recorded. */
  private async release(msg: InboundMessage, eventKey: string): Promise<boolean> {
    const { store, config, log } = this.deps;
    const release = async () => {
      await store.events.release(msg.platform, msg.eventId, config.instanceId);
      this.eventsInFlight.delete(eventKey);
    };
    // Still down after a few seconds: handed over once it is back (the heartbeat's sweep tries
    // again), or, should this process stop first, taken over as a dead one's.
    await this.deps.owed.land(eventKey, release);
    log.warn({ platform: msg.platform, eventId: msg.eventId }, 'the database dropped during a turn; the message is answered again once it is back');
    return true;
  }

  /**
   * Mark a platform event done, trying again a few times (the write is idempotent, and a
   * connection that dropped under it says nothing about whether it landed); a failure after that
   * is logged (the claim is then recovered, and its stored reply sent again).
   */
  private async complete(msg: InboundMessage, eventKey: string): Promise<void> {
    const complete = async () => {
      await this.deps.store.events.complete(msg.platform, msg.eventId);
      this.eventsInFlight.delete(eventKey);
    };
    const failed = (err: unknown) =>
      this.deps.log.error({ err, platform: msg.platform, eventId: msg.eventId }, 'could not mark a delivered message answered; trying again with each heartbeat');
    // Left open, the claim would stay this live process's until it stopped, and the next start
    // would then send the reply again: it is marked as soon as the database is back. Meanwhile
    // the message stays in flight here, so a redelivery is a duplicate.
    await this.deps.owed.land(eventKey, complete, failed);
  }

  /**
   * Take over `platform`'s claimed events whose owner died (API turns a crashed process had
   * accepted): each returned row is this instance's now, to finish once.
   */
  async takeOverAbandoned(platform: string, max = 100): Promise<AbandonedEvent[]> {
    const { store, clock, config } = this.deps;
    const now = clock.now();
    const thresholds = { deadAfterMs: config.deadAfterMs, leaseMs: config.eventLeaseMs };
    const rows = await store.events.abandoned({ now, ...thresholds, limit: max, platform });
    const mine: AbandonedEvent[] = [];
    for (const row of rows) {
      if (await store.events.claim({ platform, eventId: row.eventId, owner: config.instanceId, now, ...thresholds })) mine.push(row);
    }
    return mine;
  }

  /** Run any task in the conversation's queue, so it never overlaps a turn there (clear, delete). */
  serialized<T>(conv: Pick<Conversation, 'id' | 'platform' | 'scopeKey'>, task: () => Promise<T>): Promise<T> {
    return this.tasks.track(this.line(serialKeyFor(conv), task));
  }

  /** The character that speaks in a stored conversation, resolved as its platform turns resolve it. */
  characterOf(conv: Conversation): Promise<Character> {
    const { store, config } = this.deps;
    return resolveCharacter(store, conv, bindingKeysForScope(conv.scopeKey), conv.platform, config.defaultCharacter);
  }

  /** Subscribe to every message a turn stores (the scheduler re-times proactive messages with it). */
  onMessage(listener: MessageListener): () => void {
    this.deps.listeners.push(listener);
    return () => {
      const i = this.deps.listeners.indexOf(listener);
      if (i >= 0) this.deps.listeners.splice(i, 1);
    };
  }

  /**
   * Add a write to every message a turn stores, in the transaction that stores it (the scheduler
   * re-times proactive messages so): it commits with the message and costs no commit of its own.
   * A writer's failure fails the message; a writer catches what is not a database error itself.
   */
  alongsideMessage(writer: MessageWriter): () => void {
    this.deps.writers.push(writer);
    return () => {
      const i = this.deps.writers.indexOf(writer);
      if (i >= 0) this.deps.writers.splice(i, 1);
    };
  }

  /** Subscribe to every finished turn — platform, API and scheduled — with its outcome, tokens and duration (metrics). */
  onTurn(listener: TurnListener): () => void {
    this.turnListeners.push(listener);
    return () => {
      const i = this.turnListeners.indexOf(listener);
      if (i >= 0) this.turnListeners.splice(i, 1);
    };
  }

  /** Add a source of extra context for every model turn (a lorebook, a persona, memory). */
  addContextProvider(provider: ContextProvider): void {
    this.deps.contextProviders.push(provider);
  }

  /**
   * A model slot in the same fair semaphore turns use, for background model work (memory
   * extraction) under one owner name: it waits its turn like a chat, never ahead of everyone.
   */
  modelSlot(owner: string): Promise<() => void> {
    return this.deps.modelSlots.acquire(owner);
  }

  /** Add a command after construction (one whose service needs the engine first, e.g. `proactive`). */
  addCommand(command: Command): void {
    this.commands.set(command.name, command);
  }

  /** The commands as data, for the platforms' menus. */
  get menu(): CommandMenu {
    return commandMenu(this.commands);
  }

  /** Stop taking new messages (shutdown); in-flight turns continue. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Try again the closing writes the database was down for (a message marked answered, a claim
   * handed to the sweep, an API turn's claim closed with its credits); how many are still owed.
   * Every recovery sweep does first; a stop does once more after draining.
   */
  settleOwed(): Promise<number> {
    return this.deps.owed.settle();
  }

  /** Keep a closing write (safe to repeat) that could not land, for `settleOwed` to try again. */
  owe(key: string, write: () => Promise<unknown>): void {
    this.deps.owed.owe(key, write);
  }

  /** A closing write (safe to repeat) tried a few times now, then owed (see `OwedWrites.land`); true when it landed now. */
  land(key: string, write: () => Promise<unknown>, failed?: (err: unknown) => void): Promise<boolean> {
    return this.deps.owed.land(key, write, failed);
  }

  /** Wait for in-flight turns, up to `timeoutMs`; true when all finished. */
  drain(timeoutMs: number): Promise<boolean> {
    return this.tasks.drain(timeoutMs);
  }

  get inFlightCount(): number {
    return this.tasks.size;
  }

  /** What the engine is doing right now: turns in flight, model calls running and waiting. */
  stats(): { inFlight: number; modelActive: number; modelQueued: number } {
    return { inFlight: this.tasks.size, modelActive: this.deps.modelSlots.active, modelQueued: this.deps.modelSlots.queued };
  }

  private emitTurn(ctx: TurnContext, startedAt: number, thrown?: unknown): void {
    if (!this.turnListeners.length) return;
    const e = turnFinished(ctx, this.deps.clock.now() - startedAt, thrown);
    for (const listener of this.turnListeners) {
      try {
        listener(e);
      } catch (err) {
        this.deps.log.warn({ err }, 'a turn subscriber failed');
      }
    }
  }

  /** Platform admins, or anyone listed in ADMIN_USER_IDS as `platform:userId`. */
  private isAdmin(platform: Platform, userId: string, senderIsAdmin: boolean): boolean {
    return senderIsAdmin || this.deps.config.adminUserIds.includes(`${platform}:${userId}`);
  }

  /** A time for a message's arrival or a claim's try: strictly increasing, so two of one platform batch never tie. */
  private nextArrival(): number {
    return (this.lastArrival = Math.max(this.deps.clock.now(), this.lastArrival + 1));
  }

  /**
   * Claim (platform, event id) for this process, storing the message with the claim. A claim the
   * database refuses (locked, unreachable) is tried again with backoff until it is on disk or the
   * engine stops — never answered, and never reported as accepted, so the platform can deliver
   * it again.
   */
  private async claim(msg: InboundMessage, eventKey: string, chatKey: string, arrivedAt: number): Promise<'new' | 'retaken' | 'duplicate'> {
    if (this.eventsInFlight.has(eventKey)) return 'duplicate';
    this.eventsInFlight.add(eventKey);
    const { store, config, log } = this.deps;
    const { raw: _raw, files, ...rest } = msg;
    // File bytes are not kept with the claim (megabytes of JSON): a recovered command says to send it again.
    const durable = files ? { ...rest, files: files.map(({ bytes, ...f }) => (bytes ? { ...f, skipped: 'failed' as const } : f)) } : rest;
    const payload = JSON.stringify(durable);
    // A failed try may still have landed (the connection dropped as it committed): the next try
    // then finds this process's own claim, which is this message's, not a duplicate of it.
    const uncertain: number[] = [];
    // Each try has a time of its own (how a try that landed unheard is recognised); every try
    // writes the message's arrival, so one tried again stays ahead of the messages that came meanwhile.
    for (let pause = 100, now = arrivedAt; ; pause = Math.min(pause * 2, 5000), now = this.nextArrival()) {
      try {
        let outcome = await store.events.claimOutcome({
          platform: msg.platform,
          eventId: msg.eventId,
          owner: config.instanceId,
          now,
          arrivedAt,
          deadAfterMs: config.deadAfterMs,
          leaseMs: config.eventLeaseMs,
          payload,
          uncertain,
          chatKey,
        });
        // A dead process's message it had answered, but not yet marked so (the database was down):
        // marked now, not answered twice.
        const noted = outcome === 'retaken' && this.deps.answered ? await this.deps.answered.noted(eventKey) : undefined;
        if (noted) {
          await this.complete(msg, eventKey);
          outcome = 'duplicate';
        }
        if (outcome === 'duplicate') this.eventsInFlight.delete(eventKey);
        log.debug({ eventKey, outcome, ...(noted === undefined ? {} : { notedAnswered: noted }) }, 'claimed an incoming message');
        return outcome;
      } catch (err) {
        if (!this.accepting) {
          this.eventsInFlight.delete(eventKey);
          throw err;
        }
        uncertain.push(now);
        log.error({ err, platform: msg.platform, eventId: msg.eventId }, 'could not record an incoming message; trying again');
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }
}

/** The line a platform message waits in: its chat's, or its thread's. */
function lineKeyOf(msg: InboundMessage): string {
  return encodeKey({ platform: msg.platform, chatId: msg.chatId, ...(msg.threadId !== undefined ? { threadId: msg.threadId } : {}) });
}
