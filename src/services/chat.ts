import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Character, Conversation, ReplyEvent, TokenUsage } from '../core/types.js';
import { CharbridgeError, ConflictError, ModelError, ModelUnavailableError, NotFoundError, StoreUnavailableError, TurnHandedOffError, ValidationError } from '../core/errors.js';
import { retried, retriedInBackground } from '../core/retry.js';
import { TaskTracker } from '../core/tasks.js';
import { newId } from '../core/ids.js';
import type { CreditsOwedBack, DurableTurn } from '../engine/index.js';
import { createConversation, type NewConversation } from './conversations.js';
import { recoverApiTurns, type ApiTurnRecord } from './chat-recovery.js';
import type { Engine, TurnResult } from '../engine/index.js';
import type { Logger } from '../log.js';
import type { Bus } from '../coord/index.js';
import type { NewUpdate, Store } from '../store/index.js';
import { visibleCharacter, visibleConversation, type Caller } from './access.js';
import { IdempotencyGate, type OrphanedTurn } from './idempotency.js';
import type { ImageFetcher } from './image-fetch.js';

/** Credits a turn costs, as the TuringMate chat API prices them: one for text, two with an image. */
export const TEXT_COST = 1;
export const IMAGE_COST = 2;

/** What the chat service needs; every HTTP dialect passes the same instance. */
export interface ChatServiceDeps {
  store: Store;
  engine: Engine;
  log: Logger;
  clock?: Clock;
  /** Fetches `imageUrl` safely; the model gets the image as a `data:` URL. */
  images: ImageFetcher;
  /** When instances share a bus: a repeated Idempotency-Key waits for the instance running it. */
  idempotencyBus?: { bus: Bus; waitMs: number };
  /**
   * This process as the owner of pending Idempotency-Keys (its heartbeat tells the others it
   * lives): a key whose owner died is answered from its turn, or taken over, at once.
   */
  instance?: { id: string; deadAfterMs: number } | undefined;
}

export type ChatMode = 'sync' | 'async' | 'stream';

/** One chat message from an API client, in dialect-neutral form. */
export interface ChatRequest {
  /** Character id or slug; must be visible to the caller. */
  characterRef: string;
  text: string;
  imageUrl?: string | null | undefined;
  /** Continue this API session; absent starts a new one. */
  sessionId?: string | null | undefined;
  /**
   * A conversation the dialect already resolved and authorised (userId/groupId scopes); takes
   * precedence over `sessionId`.
   */
  conversation?: Conversation | undefined;
  /** Or the one to find or create once the turn is admitted (so a refused request creates nothing). */
  newConversation?: NewConversation | undefined;
  /** How the answer reaches the client; `async` answers go to the updates feed. Default `sync`. */
  mode?: ChatMode | undefined;
  /** How the character addresses the user; 'User' by default. */
  userName?: string | undefined;
  /**
   * Who wrote this message (the user/group chat API's userId), stored on it; in group conversations the model
   * sees `name: text`, so several speakers stay apart exactly as on the platforms.
   */
  author?: { id: string; name: string } | undefined;
  /** How the user describes themselves this turn: the name is `{{user}}`, the description goes into the context. */
  persona?: { name?: string | null | undefined; description?: string | null | undefined } | undefined;
  /** The id the turn gets (an Idempotency-Key's claim names it in advance); new when absent. */
  turnId?: string | undefined;
}

export interface ChatCredits {
  /** Credits this message cost. */
  used: number;
  /** What the key has left; null when the key is unlimited (or the admin). */
  remaining: number | null;
}

/** A successful turn as every dialect reports it. */
export interface ChatReply {
  sessionId: string;
  characterId: string;
  characterName: string;
  message: { id: string; content: string; sentAt: string };
  credits: ChatCredits;
  usage: TokenUsage;
  /** The model that answered. */
  model: string;
}

/** How a turn ended. Never a rejected promise, so nobody has to remember to catch it. */
export type ChatOutcome = { ok: true; reply: ChatReply } | { ok: false; error: CharbridgeError };

/** A turn that has been accepted and is running. */
export interface ChatTurn {
  sessionId: string;
  conversation: Conversation;
  character: Character;
  cost: number;
  /** The engine's events as the model produces them (start, delta…, done | error). */
  events: AsyncIterable<ReplyEvent>;
  /** Settles after the reply is stored and credits are charged (or released on failure). */
  outcome: Promise<ChatOutcome>;
}

/**
 * The chat logic every HTTP dialect shares: visibility, sessions and the SSRF check, then the
 * engine turn, whose admission applies the key's rate limit and credits. Routes only parse
 * their envelope and render the result.
 *
 * Order of checks: input (400) → character (404) → session (404/409) → rate limit (429) →
 * credits (402). Credits are reserved before the model runs and released if the turn fails,
 * so concurrent requests cannot overdraw a key and a failed turn costs nothing; a new session
 * is created only once the turn is admitted.
 *
 * @example
 * const reply = await chat.send(caller, { characterRef: 'aria', text: 'hi' });
 */
export class ChatService {
  readonly idempotency: IdempotencyGate;
  private readonly store: Store;
  private readonly background = new TaskTracker();

  constructor(private deps: ChatServiceDeps) {
    this.store = deps.store;
    const { instance } = deps;
    const runner = instance && { instanceId: instance.id, deadAfterMs: instance.deadAfterMs, newTurnId: () => newId('turn'), inspect: (turnId: string) => this.inspect(turnId) };
    this.idempotency = new IdempotencyGate(deps.store, deps.clock ?? systemClock, {
      ...(deps.idempotencyBus ? { shared: deps.idempotencyBus } : {}),
      ...(runner ? { runner } : {}),
      track: (p) => this.track(p),
      owe: (key, write) => deps.engine.owe(key, write),
      log: deps.log,
    });
  }

  /**
   * What became of API turn `turnId` (a dead process's, named by a pending Idempotency-Key):
   * still claimed (it is being finished by whoever recovers it), answered (its stored reply), or
   * over without an answer — or never recorded — so its request may run anew.
   */
  async inspect(turnId: string): Promise<OrphanedTurn> {
    if ((await this.store.events.state('api', turnId)) === 'processing') return { state: 'running' };
    const reply = await this.store.messages.bySourceEvent(`api:${turnId}:reply`);
    if (!reply) return { state: 'gone' };
    const asked = await this.store.messages.bySourceEvent(`api:${turnId}`);
    const conv = await this.store.conversations.get(reply.conversationId);
    let remaining: number | null = null;
    if (conv?.ownerId && conv.ownerId !== 'admin') {
      const key = await this.store.apiKeys.get(conv.ownerId);
      remaining = key && key.credits !== null ? Math.max(0, key.credits - key.creditsUsed) : null;
    }
    return {
      state: 'answered',
      reply: {
        sessionId: reply.conversationId,
        message: { id: reply.id, content: reply.content, sentAt: reply.createdAt },
        credits: { used: asked?.imageUrls.length ? IMAGE_COST : TEXT_COST, remaining },
      },
    };
  }

  /**
   * Validate, charge and start a turn; throws a CharbridgeError for anything refused. The turn is
   * recorded durably together with its credit reservation, so if this process dies another one
   * finishes it (see ./chat-recovery.ts).
   */
  async start(caller: Caller, req: ChatRequest): Promise<ChatTurn> {
    const text = req.text.trim();
    if (!text && !req.imageUrl) throw new ValidationError('message or imageUrl is required', { field: 'message' });
    const character = await visibleCharacter(this.store, caller, req.characterRef);
    const existing = req.conversation ?? (req.sessionId ? await this.session(caller, req.sessionId, character) : undefined);
    // Fetched once the request names a character and session it may use, not before.
    const imageUrls = req.imageUrl ? [await this.deps.images.dataUrl(req.imageUrl)] : [];
    const cost = imageUrls.length ? IMAGE_COST : TEXT_COST;
    const record: ApiTurnRecord = {
      keyId: caller.keyId,
      apiKeyId: caller.apiKey?.id ?? null,
      characterId: character.id,
      conversation: existing ? { id: existing.id } : { new: req.newConversation ?? { id: newId('conv'), chatType: 'dm' } },
      // API sessions are 'dm'; a group conversation a dialect resolved keeps its speaker prefixes.
      chatType: existing?.chatType ?? req.newConversation?.chatType ?? 'dm',
      userName: req.userName ?? 'User',
      text,
      imageUrls,
      author: req.author ?? null,
      ...(req.persona ? { persona: { name: req.persona.name ?? null, description: req.persona.description ?? null } } : {}),
      cost,
      mode: req.mode ?? 'sync',
    };
    return this.run(caller, character, existing, record, { eventId: req.turnId ?? newId('turn'), payload: JSON.stringify(record) });
  }

  /**
   * Run a recorded turn: a new one (`durable.resumed` unset: claimed and charged at admission),
   * or one a dead process accepted (claimed by this one already, its credits reserved).
   */
  async run(caller: Caller, character: Character, existing: Conversation | undefined, record: ApiTurnRecord, durable: DurableTurn): Promise<ChatTurn> {
    const spec = 'new' in record.conversation ? record.conversation.new : undefined;
    // Its answer goes to the feed: one the database dropped under is finished later, not failed.
    const feed = record.mode === 'async' || durable.resumed === true;
    if (feed) durable = { ...durable, finishLater: true };
    const { stream, admitted, result, creditsOwedBack } = this.deps.engine.turn({
      source: 'api',
      conversation: existing ?? (() => createConversation(this.store, spec ?? { chatType: 'dm' }, record.keyId, record.characterId)),
      character,
      chatType: record.chatType,
      userName: record.userName,
      ...(record.persona ? { persona: record.persona } : {}),
      user: { text: record.text, imageUrls: record.imageUrls, authorId: record.author?.id ?? null, authorName: record.author?.name ?? null, sourceEvent: `api:${durable.eventId}` },
      payer: { keyId: record.keyId, apiKeyId: record.apiKeyId, cost: record.cost },
      durable,
    });
    const conv = await admitted.catch((err: unknown) => {
      // Refused as the database dropped: the turn is undone (see the limit step), and a session
      // made for it alone may have landed, under an id its client never learnt.
      if (err instanceof StoreUnavailableError && !durable.resumed && spec?.id && !spec.scopeKey) this.track(this.forgetSession(spec.id));
      throw err;
    });
    const { cost } = record;
    const outcome = result.then(
      (r) => this.settle(caller, cost, conv, character, r),
      async (err: unknown) => {
        // Handed to the recovery sweep; or (a sync turn) a 503 to try again, nothing charged.
        if (err instanceof StoreUnavailableError) return { ok: false, error: err } as const;
        // The usual cause is a conversation deleted while this turn waited behind it.
        if (!(await this.store.conversations.get(conv.id).catch(() => undefined))) {
          return { ok: false, error: new NotFoundError('Conversation', 'CONVERSATION_NOT_FOUND') } as const;
        }
        this.deps.log.error({ err, conversationId: conv.id }, 'chat turn crashed');
        return { ok: false, error: new CharbridgeError('INTERNAL_ERROR', 'Something went wrong on our side; nothing was charged', { status: 500 }) } as const;
      },
    );
    // The turn is finished once its answer is where the client looks for it: the response, or
    // (async) the updates feed; until then another process would finish it after a crash.
    const turn: ChatTurn = { sessionId: conv.id, conversation: conv, character, cost, events: stream, outcome };
    // A failure's feed entry is written as its claim closes, in one transaction (`finish`).
    const delivered = feed ? outcome.then(async (o) => (handedOff(o) || !o.ok ? o : (await this.publish(caller, turn, o, { leaveUnfinished: true }), o))) : outcome;
    const finished = delivered.then(async (o) => {
      if (!handedOff(o)) await this.finish(durable.eventId, creditsOwedBack(), feed && !o.ok ? { caller, turn, o } : undefined); // else the recovery sweep has it
    });
    // A failed answer says its credits are back, so it waits for them; a reply does not wait for
    // its claim's closing, nor a 503 for a database that is not there.
    if (!feed) turn.outcome = outcome.then((o): ChatOutcome | Promise<ChatOutcome> => (o.ok || o.error instanceof StoreUnavailableError ? o : finished.then(() => o, () => o)));
    this.track(
      finished.catch(async (err: unknown) => {
        // Its feed entry could not be written: the recovery sweep writes it from what is stored,
        // once the claim is handed to it (as soon as the database is back).
        const instance = this.deps.instance;
        if (err instanceof StoreUnavailableError && instance) {
          const release = () => this.store.events.release('api', durable.eventId, instance.id);
          await this.deps.engine.land(`api:${durable.eventId}`, release);
          return;
        }
        this.deps.log.error({ err }, 'could not finish an API turn');
      }),
    );
    return turn;
  }

  /**
   * Close a turn's claim with, in the same transaction, what it reserved and did not spend given
   * back and (`failed`, a turn whose answer goes to the feed) its failure's feed entry: tried again
   * safely (a retry finds it closed), and never half done, so a crash can neither give credits back
   * twice nor put a failure on the feed that a later answer of the same turn follows.
   */
  private async finish(eventId: string, owed: CreditsOwedBack | undefined, failed?: { caller: Caller; turn: ChatTurn; o: ChatOutcome }): Promise<void> {
    const entry = failed && (await this.feedEntry(failed.caller, failed.turn, failed.o));
    let tell = () => {};
    const close =
      owed || entry
        ? () =>
            this.store.events.close('api', eventId, async (tx) => {
              if (owed) await this.store.apiKeys.release(owed.apiKeyId, owed.cost, tx);
              if (entry) tell = (await this.store.updates.appendWithin(tx, entry)).tell;
            })
        : () => this.store.events.complete('api', eventId);
    const closed = async () => {
      await close();
      tell();
    };
    // Left open, the claim (and the credits it holds back) would wait for this live process to
    // stop, and its failure would not reach the feed: closed as soon as the database is back.
    await this.deps.engine.land(`api:${eventId}`, closed, (err) => this.deps.log.error({ err, eventId }, 'could not finish an API turn; trying again with each heartbeat'));
  }

  private async forgetSession(id: string): Promise<void> {
    await retriedInBackground(
      async () => {
        if (await this.store.conversations.deleteIfEmpty(id)) this.deps.log.warn({ conversationId: id }, 'a session made for an API turn that was then undone is removed');
      },
      (err) => this.deps.log.error({ err, conversationId: id }, 'could not remove the empty session of an API turn that was undone'),
    );
  }

  /** Start a turn and wait for it: the reply, or the turn's error thrown (502/503/500). */
  async send(caller: Caller, req: ChatRequest): Promise<ChatReply> {
    const turn = await this.start(caller, req);
    const o = await turn.outcome;
    if (!o.ok) throw o.error;
    return o.reply;
  }

  /** Start a turn whose result goes to the caller's updates feed (kind `reply` or `error`). */
  sendAsync(caller: Caller, req: ChatRequest): Promise<ChatTurn> {
    return this.start(caller, { ...req, mode: 'async' });
  }

  /** Finish the API turns a dead process accepted: their answers go to the updates feed. */
  recover(): Promise<number> {
    return recoverApiTurns(this, this.deps.engine, this.store, this.deps.log);
  }

  /**
   * Put a finished turn on the updates feed. Async turns always go there; a stream whose client
   * left before the end goes there too, so the reply is not only in history. Best effort (logged)
   * unless `leaveUnfinished`: then an unreachable database is thrown, for the turn to be finished later.
   */
  async publish(caller: Caller, turn: Pick<ChatTurn, 'sessionId' | 'character'>, o: ChatOutcome, opts: { leaveUnfinished?: boolean } = {}): Promise<void> {
    try {
      const entry = await this.feedEntry(caller, turn, o);
      if (!entry) return;
      // A reply's entry is keyed by its message, so trying again never shows it twice.
      if (o.ok) {
        let failure: unknown;
        if (!(await retried(() => this.store.updates.append(entry), (err) => (failure = err)))) throw failure;
      } else await this.store.updates.append(entry);
    } catch (err) {
      this.deps.log.error({ err, conversationId: turn.sessionId }, 'could not append to the updates feed');
      // `leaveUnfinished`: the database is unreachable, so the caller leaves the turn to the
      // recovery sweep, which appends what is stored.
      if (opts.leaveUnfinished && err instanceof StoreUnavailableError) throw err;
    }
  }

  /**
   * A turn's entry on the updates feed; undefined when its session is gone. Not serialized with
   * the conversation's turns: a reply must not wait for the next queued turn. A DELETE racing the
   * append leaves a row the feed never shows (reads skip entries whose conversation is gone).
   */
  private async feedEntry(caller: Caller, turn: Pick<ChatTurn, 'sessionId' | 'character'>, o: ChatOutcome): Promise<NewUpdate | undefined> {
    if (!(await this.store.conversations.get(turn.sessionId))) return undefined;
    return {
      apiKeyId: caller.keyId,
      conversationId: turn.sessionId,
      characterId: turn.character.id,
      kind: o.ok ? 'reply' : 'error',
      ...(o.ok ? { message: o.reply.message } : { error: { code: o.error.code, message: o.error.message } }),
    };
  }

  /** Wait for background work (async turns' feed entries) before the store closes. */
  async drain(): Promise<void> {
    await this.background.drain();
  }

  private track(p: Promise<unknown>): void {
    this.background.track(p);
  }

  private async session(caller: Caller, sessionId: string, character: Character): Promise<Conversation> {
    const conv = await visibleConversation(this.store, caller, sessionId);
    if (conv.platform !== 'api') {
      throw new ConflictError(`Session ${sessionId} is a ${conv.platform} conversation; it can be read here but not chatted in`, 'SESSION_NOT_API');
    }
    if (conv.characterId !== character.id) {
      throw new ConflictError(`Session ${sessionId} belongs to another character; start a new session to talk to this one`, 'SESSION_CHARACTER_MISMATCH');
    }
    return conv;
  }

  private async settle(caller: Caller, cost: number, conv: Conversation, character: Character, r: TurnResult): Promise<ChatOutcome> {
    if (!r.ok || !r.message) return { ok: false, error: publicModelError(r.ok ? undefined : r.error) };
    let remaining: number | null = null;
    if (caller.apiKey) {
      const key = await this.store.apiKeys.get(caller.apiKey.id);
      remaining = key && key.credits !== null ? Math.max(0, key.credits - key.creditsUsed) : null;
    }
    const m = r.message;
    return {
      ok: true,
      reply: {
        sessionId: conv.id,
        characterId: character.id,
        characterName: character.name,
        message: { id: m.id, content: m.content, sentAt: m.createdAt },
        credits: { used: cost, remaining },
        usage: r.usage,
        model: r.model,
      },
    };
  }
}

/**
 * The engine's model errors carry upstream detail (status lines, internal hostnames) that is
 * logged but not shown to API clients; they get the code and a neutral message.
 */
function publicModelError(err: CharbridgeError | undefined): CharbridgeError {
  if (err instanceof ModelUnavailableError) {
    return new ModelUnavailableError('No model backend could be reached; nothing was charged. Try again shortly.', err);
  }
  return new ModelError('The model server returned an error; nothing was charged. Try again.', err);
}

function handedOff(o: ChatOutcome): boolean {
  return !o.ok && o.error instanceof TurnHandedOffError;
}
