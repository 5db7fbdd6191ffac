import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock.js';
import { isCharbridgeError } from '../core/errors.js';
import { TaskTracker } from '../core/tasks.js';
import type { Character, Conversation, StoredMessage } from '../core/types.js';
import { Semaphore, substitute } from '../engine/index.js';
import type { Embedder, ModelClient } from '../llm/index.js';
import type { Logger } from '../log.js';
import type { LearntFacts, MemoryFact, MemoryProgress, Store } from '../store/index.js';
import type { MemoryConfig } from './config.js';
import { extractionPrompt, factKey, parseExtraction, type ExtractionAnswer } from './extraction.js';
import { memoryOwnerOf, significantWords } from './owner.js';
import { embedMessages } from './similar.js';

/** Messages read per extraction at most (older ones wait for the next). */
export const EXTRACTION_BATCH = 60;
/** Turns' progress waiting for the look after their reply, at most. */
const MAX_HANDOFFS = 10_000;
const LEASE_MS = 120_000;
const MAX_ANSWER_TOKENS = 800;

export interface ExtractorDeps {
  store: Store;
  model: ModelClient;
  clock: Clock;
  log: Logger;
  config: MemoryConfig;
  contextTokens: number;
  /** This process, as the holder of extraction leases. */
  instanceId: string;
  /** A model slot in the engine's fair semaphore, shared with turns. */
  modelSlot(owner: string): Promise<() => void>;
  /** With EMBEDDINGS_MODEL: messages extraction reads are embedded for recall by meaning. */
  embedder?: Embedder | undefined;
}

/**
 * The background worker that turns conversations into facts and a rolling summary. Told of
 * every stored reply, it decides whether a conversation is due — MEMORY_EXTRACT_EVERY user turns
 * unread, unread messages filling half the context, or unread messages already out of the
 * window (after /clear or a character switch) — and runs at most one extraction per conversation
 * (in this process by a guard, across processes by a lease in the database) and two in all,
 * each waiting for a model slot as one owner, `memory`, in the engine's fair semaphore. Nothing
 * here is awaited by a turn.
 */
export class Extractor {
  private readonly tasks = new TaskTracker();
  private readonly running = new Set<string>();
  /** Conversations told of a new reply while extracting: looked at again when it ends. */
  private readonly again = new Set<string>();
  private readonly global = new Semaphore(2);
  private stopped = false;
  /** Where each (conversation, character)'s turns begin, until its first extraction records progress. */
  private readonly turnStarts = new LRUCache<string, number>({ max: 10_000 });
  /**
   * Progress the context read at the start of a turn, for the look after its reply (checked
   * before it is acted on), taken once. A Map bounded by hand, not an LRU: lru-cache clears all
   * of its slots when its last entry is deleted, which a deployment with one chat talking would
   * pay every turn (~20–140 µs for 10,000 slots).
   */
  private readonly turnProgress = new Map<string, MemoryProgress>();

  constructor(private readonly deps: ExtractorDeps) {}

  /** A reply was stored: extract in the background if the conversation is due. */
  notify(conversation: Conversation, character: Character): void {
    if (this.stopped || !this.deps.config.enabled || this.deps.model.offline) return;
    const key = `${conversation.id}|${character.id}`;
    if (this.running.has(key)) {
      this.again.add(key);
      return;
    }
    this.running.add(key);
    void this.tasks.track(this.loop(key, conversation, character));
  }

  /** The context read this progress for a turn now running: the look after its reply starts from it. */
  progressRead(conversationId: string, characterId: string, progress: MemoryProgress): void {
    // Hand-offs of turns whose look never came (memory turned off meanwhile) go, oldest first.
    if (this.turnProgress.size >= MAX_HANDOFFS) this.turnProgress.delete(this.turnProgress.keys().next().value!);
    this.turnProgress.set(`${conversationId}|${characterId}`, progress);
  }

  /** Resolves when no extraction is running (tests, benches). */
  async idle(): Promise<void> {
    await this.tasks.drain();
  }

  /** Start no more; wait up to `timeoutMs` for running ones. */
  async stop(timeoutMs = 5000): Promise<boolean> {
    this.stopped = true;
    return this.tasks.drain(timeoutMs);
  }

  get active(): number {
    return this.running.size;
  }

  private async loop(key: string, conversation: Conversation, character: Character): Promise<void> {
    try {
      // The turn's own conversation is current for the first look; later rounds read it again.
      let known: Conversation | undefined = conversation;
      let more = true;
      while (more && !this.stopped) {
        this.again.delete(key);
        more = (await this.runOnce(known ?? conversation.id, character)) || this.again.has(key);
        known = undefined;
      }
    } catch (err) {
      this.deps.log.warn({ err, conversationId: conversation.id }, 'memory extraction failed');
    } finally {
      this.running.delete(key);
    }
  }

  /** One extraction if due; true when more unread messages are waiting. */
  private async runOnce(which: Conversation | string, character: Character): Promise<boolean> {
    const { store, log, instanceId } = this.deps;
    const conv = typeof which === 'string' ? await store.conversations.get(which) : which;
    if (!conv) return false;
    // The turn's own first look starts from what its context read; progress only moves forward,
    // so at worst that looks due too early, and it is read again below before anything is done.
    const key = `${conv.id}|${character.id}`;
    const fromTurn = typeof which === 'string' ? undefined : this.turnProgress.get(key);
    this.turnProgress.delete(key);
    const progress = fromTurn ?? (await store.memory.progress(conv.id, character.id));
    const { summary } = progress;
    let processedSeq = progress.processedSeq;
    if (processedSeq === 0) {
      // New to this conversation (a character switch): its turns start where its first reply's do.
      // History only grows, so once found that start never moves: asked of the store once.
      const start = this.turnStarts.get(key) ?? (await store.memory.firstTurnStart(conv.id, character.id));
      if (start === undefined) return false;
      this.turnStarts.set(key, start);
      processedSeq = start;
    }
    const unread = await store.messages.after(conv.id, processedSeq, EXTRACTION_BATCH);
    if (!this.due(conv, unread)) return false;
    const batch = answeredBy(unread, character.id);
    if (!batch.lastSeq) return false;
    if (!batch.messages.length) {
      // Only another character's turns: nothing for this one to learn; they count as read.
      if (!(await store.memory.claim(conv.id, character.id, instanceId, LEASE_MS))) return false;
      await store.memory.finish(conv.id, character.id, instanceId, { processedSeq: batch.lastSeq });
      return unread.length === EXTRACTION_BATCH;
    }
    // In line for the model before taking the conversation's lease: with many conversations due,
    // the wait can outlast LEASE_MS, and a lease lapsing meanwhile would let another process
    // extract the same messages while this one still meant to.
    const release = await this.global.acquire();
    let slot: (() => void) | undefined;
    try {
      slot = await this.deps.modelSlot('memory');
      if (!(await store.memory.claim(conv.id, character.id, instanceId, LEASE_MS))) return false;
      const stored = await store.memory.progress(conv.id, character.id);
      if (stored.processedSeq !== progress.processedSeq || stored.summary !== progress.summary) {
        // Another extraction finished since these messages were read (in another process, or
        // since the turn began): look again from what is stored.
        await store.memory.release(conv.id, character.id, instanceId);
        return true;
      }
      const owner = memoryOwnerOf(conv, character);
      const facts = await store.memory.facts(owner);
      let answer: ExtractionAnswer | undefined;
      try {
        answer = await this.ask(conv, character, facts, summary, batch.messages);
      } catch (err) {
        // Unreachable or failing model: the messages stay unread and are tried with a later reply.
        log.warn({ err, code: isCharbridgeError(err) ? err.code : undefined, conversationId: conv.id }, 'memory extraction: the model failed; will try again later');
        await store.memory.release(conv.id, character.id, instanceId);
        return false;
      } finally {
        slot();
        slot = undefined;
      }
      // Read for good now (even when the answer was unusable): embed them once, for recall by meaning.
      if (this.deps.embedder) await embedMessages({ store, embedder: this.deps.embedder, log }, conv.id, batch.messages);
      if (!answer) {
        log.warn({ conversationId: conv.id, messages: batch.messages.length }, 'memory extraction: the model answered no readable JSON; these messages are skipped');
        await store.memory.finish(conv.id, character.id, instanceId, { processedSeq: batch.lastSeq });
        return unread.length === EXTRACTION_BATCH;
      }
      const learnt = learntFrom(facts, answer, batch.messages, { maxFacts: this.deps.config.maxFacts, processedSeq: batch.lastSeq });
      if (!(await store.memory.applyExtraction(owner, { conversationId: conv.id, owner: instanceId }, learnt))) {
        log.warn({ conversationId: conv.id }, 'memory extraction: its lease lapsed before it ended; another process reads these messages');
        return false;
      }
      return unread.length === EXTRACTION_BATCH;
    } finally {
      slot?.();
      release();
    }
  }

  private due(conv: Conversation, unread: ReadonlyArray<Pick<StoredMessage, 'seq' | 'role' | 'tokenCount'>>): boolean {
    const { config, contextTokens } = this.deps;
    if (!unread.length) return false;
    if (unread.length >= EXTRACTION_BATCH) return true;
    if (unread[0]!.seq <= conv.contextStartSeq) return true;
    const users = unread.filter((m) => m.role === 'user').length;
    if (config.extractEvery > 0 && users >= config.extractEvery) return true;
    return unread.reduce((n, m) => n + m.tokenCount, 0) >= contextTokens / 2;
  }

  private async ask(conv: Conversation, character: Character, facts: MemoryFact[], summary: string | null, messages: StoredMessage[]): Promise<ExtractionAnswer | undefined> {
    const { model, store, config } = this.deps;
    const modelName = character.model ?? model.defaultModel;
    const prompt = extractionPrompt({
      characterName: character.name,
      instructions: character.memoryInstructions ? substitute(character.memoryInstructions, character.name, 'the user') : null,
      facts,
      summary,
      messages,
      maxFacts: config.maxFacts,
    });
    const r = await model.completeJson({ messages: prompt, model: modelName, maxTokens: MAX_ANSWER_TOKENS });
    await store.usage.record({
      conversationId: conv.id,
      characterId: character.id,
      apiKeyId: conv.platform === 'api' && conv.ownerId && conv.ownerId !== 'admin' ? conv.ownerId : null,
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      credits: 0,
      model: modelName,
      platform: conv.platform,
      kind: 'memory',
    });
    return parseExtraction(r.text);
  }
}

/**
 * The turns this character answered, in order: user messages count with the reply that
 * followed them when that reply is the character's. `lastSeq` is the last reply's seq (what the
 * extraction reads up to); user messages still waiting for a reply stay unread.
 */
export function answeredBy(unread: StoredMessage[], characterId: string): { messages: StoredMessage[]; lastSeq: number } {
  const messages: StoredMessage[] = [];
  let pending: StoredMessage[] = [];
  let lastSeq = 0;
  for (const m of unread) {
    if (m.kind === 'system-notice') continue;
    if (m.role === 'user') {
      pending.push(m);
      continue;
    }
    if (m.role === 'assistant') {
      if (m.authorId === characterId) messages.push(...pending, m);
      pending = [];
      lastSeq = m.seq;
    }
  }
  return { messages, lastSeq };
}

/**
 * What the answer changes in the facts: updates and removals by number, new facts unless already
 * known (said the same way), then the cap; each fact with the messages it came from.
 */
function learntFrom(facts: MemoryFact[], a: ExtractionAnswer, messages: StoredMessage[], at: { maxFacts: number; processedSeq: number }): LearntFacts {
  const wordsOf = new Map(messages.map((m) => [m.seq, significantWords(m.content)]));
  const sources = (fact: string) => sourcesOf(fact, messages, wordsOf);
  const byNumber = (n: number) => (n >= 1 && n <= facts.length ? facts[n - 1] : undefined);
  const removed = new Set(a.remove.map(byNumber).filter((f): f is MemoryFact => f !== undefined).map((f) => f.id));
  const known = new Set(facts.filter((f) => !removed.has(f.id)).map((f) => factKey(f.text)));
  const learnt: LearntFacts = { update: [], remove: [...removed], add: [], maxFacts: at.maxFacts, processedSeq: at.processedSeq, ...(a.summary !== undefined ? { summary: a.summary } : {}) };
  for (const u of a.update) {
    const f = byNumber(u.n);
    if (!f || removed.has(f.id)) continue;
    learnt.update.push({ id: f.id, text: u.fact, sourceSeqs: sources(u.fact) });
    known.add(factKey(u.fact));
  }
  for (const text of a.facts) {
    const key = factKey(text);
    if (known.has(key)) continue;
    learnt.add.push({ text, sourceSeqs: sources(text) });
    known.add(key);
  }
  return learnt;
}

/**
 * The messages a fact came from: those of the batch sharing words with it, either side (a reply
 * often repeats what it heard); the batch's user messages when none does. Forgetting the fact
 * keeps all of them from recall.
 */
function sourcesOf(fact: string, messages: StoredMessage[], wordsOf: Map<number, Set<string>>): number[] {
  const words = significantWords(fact);
  const matching = messages.filter((m) => shareAny(wordsOf.get(m.seq)!, words));
  return (matching.length ? matching : messages.filter((m) => m.role === 'user')).map((m) => m.seq);
}

function shareAny(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  for (const w of a) if (b.has(w)) return true;
  return false;
}
