import { LRUCache } from 'lru-cache';
import type { Character, ChatType, Conversation, StoredMessage } from '../core/types.js';
import type { MessageRepo } from '../store/index.js';
import { countRepeatedTokens, countTokens, TOKENS_PER_IMAGE, TOKENS_PER_MESSAGE, type ContentPart, type ModelMessage } from '../llm/index.js';
import { buildPostHistory, buildSystemPrompt, hasVolatileMacros } from './prompt.js';
import type { ContextBlock } from './context-blocks.js';

export interface ContextInput {
  character: Character;
  conversation: Conversation;
  userName: string;
  chatType: ChatType;
  /** The message being answered (already stored), or none for a proactive turn. */
  current?: StoredMessage | undefined;
  /** Extra system instruction appended after the history (e.g. the proactive instruction). */
  instruction?: string | undefined;
  /** What context providers (lorebooks, personas, memory) add this turn. */
  blocks?: readonly ContextBlock[] | undefined;
  budgetTokens: number;
  /** The moment card macros ({{time}}, {{date}}…) read; the system clock when absent. */
  now?: Date | undefined;
}

export interface BuiltContext {
  messages: ModelMessage[];
  promptTokens: number;
  /** How many stored rows were read to build it (the O(window) property benchmarks watch). */
  rowsRead: number;
  historyIncluded: number;
  /** Providers' blocks left out because the character prompt and the message left no room for them. */
  leftOut: ContextBlock[];
}

const FIRST_PAGE = 32;
const MAX_PAGE = 512;

/**
 * Characters' system prompts and their token counts, built once per (character version, user
 * name, chat type): tokenizing a long card on every turn is the costliest part of building a
 * context. Least recently used prompts go first; an edited card has a new `updatedAt`, so a
 * stale prompt is never reused. Bounded by the prompts' length as well as their number: the key
 * holds the user's name, which an API caller picks per request, so a long card could otherwise
 * be kept two thousand times over.
 */
export class PromptCache {
  private readonly prompts = new LRUCache<string, { text: string; tokens: number }>({ max: 2000, maxSize: 16_000_000, sizeCalculation: (p) => Math.max(1, p.text.length) });
  /** Rows each conversation's last context read (see `buildContext`): only a page size hint. */
  private readonly windows = new LRUCache<string, number>({ max: 10_000 });

  get(key: string) {
    return this.prompts.get(key);
  }

  set(key: string, value: { text: string; tokens: number }): void {
    this.prompts.set(key, value);
  }

  windowOf(conversationId: string): number | undefined {
    return this.windows.get(conversationId);
  }

  setWindow(conversationId: string, rows: number): void {
    this.windows.set(conversationId, rows);
  }
}

function cachedSystemPrompt(cache: PromptCache, c: Character, userName: string, chatType: ChatType, now: Date | undefined) {
  // A prompt with {{time}} or {{random}} differs every turn: built fresh, never cached.
  if (hasVolatileMacros(c)) {
    const text = buildSystemPrompt(c, { userName, chatType, now });
    return { text, tokens: countTokens(text) + TOKENS_PER_MESSAGE };
  }
  const key = `${c.id}|${c.updatedAt}|${userName}|${chatType}`;
  let hit = cache.get(key);
  if (!hit) {
    const text = buildSystemPrompt(c, { userName, chatType, now });
    hit = { text, tokens: countTokens(text) + TOKENS_PER_MESSAGE };
    cache.set(key, hit);
  }
  return hit;
}

/**
 * What every context of a turn holds whatever its history, in tokens: the character's system
 * prompt (`character`), and the message being answered with the instructions after it
 * (`message`). Providers' blocks are left out: they give way when there is no room for them.
 */
export function fixedPromptTokens(
  cache: PromptCache,
  input: Pick<ContextInput, 'character' | 'userName' | 'chatType' | 'instruction' | 'now'> & { current?: { tokens: number; images: number; authorName: string | null } },
): { character: number; message: number } {
  const system = cachedSystemPrompt(cache, input.character, input.userName, input.chatType, input.now);
  const c = input.current;
  let message = c ? costOf('user', c.authorName, c.tokens, c.images, input.chatType) : 0;
  for (const extra of [input.instruction, buildPostHistory(input.character, input.userName, { now: input.now })]) {
    if (extra) message += countTokens(extra) + TOKENS_PER_MESSAGE;
  }
  return { character: system.tokens, message };
}

/** What a provider's block costs: joined into the system prompt, or a message of its own at a depth. */
function blockCost(b: ContextBlock): number {
  return countRepeatedTokens(b.text) + (typeof b.position === 'object' ? TOKENS_PER_MESSAGE : 2);
}

/**
 * The providers' blocks that fit in `room` tokens with the rest, in their order. Each keeps to a
 * budget of its own (lorebooks a quarter of the context, memory MEMORY_TOKENS), so they overflow
 * only beside a character prompt and message near the whole budget: then the largest go first,
 * which leaves out the fewest.
 */
function blocksThatFit(blocks: readonly ContextBlock[], room: number): { kept: ContextBlock[]; leftOut: ContextBlock[]; tokens: number } {
  const costs = new Map(blocks.map((b) => [b, blockCost(b)]));
  let tokens = [...costs.values()].reduce((n, t) => n + t, 0);
  if (tokens <= room) return { kept: [...blocks], leftOut: [], tokens };
  const out = new Set<ContextBlock>();
  for (const b of [...blocks].sort((x, y) => costs.get(y)! - costs.get(x)!)) {
    if (tokens <= room) break;
    out.add(b);
    tokens -= costs.get(b)!;
  }
  return { kept: blocks.filter((b) => !out.has(b)), leftOut: [...out], tokens };
}

/**
 * System prompt (with the providers' blocks around the character definition) + the newest
 * history that fits (with their depth blocks inside it) + the new message + post-history
 * instructions, all under `budgetTokens`. Reads history newest-first in growing pages and stops
 * at the first message that would not fit, so the cost is O(window), not O(history).
 */
export async function buildContext(messages: MessageRepo, input: ContextInput, cache: PromptCache = new PromptCache()): Promise<BuiltContext> {
  const { character: c, conversation: conv } = input;
  const system = cachedSystemPrompt(cache, c, input.userName, input.chatType, input.now);
  const post = buildPostHistory(c, input.userName, { now: input.now });
  let used = system.tokens;
  const tail: ModelMessage[] = [];
  if (input.current) {
    const m = toModelMessage(input.current, input.chatType, true);
    tail.push(m);
    used += messageCost(input.current, input.chatType);
  }
  for (const extra of [input.instruction, post]) {
    if (extra) {
      tail.push({ role: 'system', content: extra });
      used += countTokens(extra) + TOKENS_PER_MESSAGE;
    }
  }

  const offered = [...(input.blocks ?? [])].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  const fitting = blocksThatFit(offered, input.budgetTokens - used);
  const blocks = fitting.kept;
  used += fitting.tokens;
  const around = (where: 'before-character' | 'after-character') => blocks.filter((b) => b.position === where).map((b) => b.text);
  const systemText = [...around('before-character'), system.text, ...around('after-character')].join('\n\n');
  const atDepth = blocks.filter((b): b is ContextBlock & { position: { depth: number; role: 'system' | 'user' | 'assistant' } } => typeof b.position === 'object');

  const history: ModelMessage[] = [];
  let rowsRead = 0;
  let beforeSeq = input.current?.seq;
  // The first page is as large as what the conversation's last turn read, plus its two new
  // messages (that turn's and its reply) and one more, so a page that reaches the start of the
  // history says so: a conversation is usually read in one query, not 32 + 64 + …, and one of a
  // few long messages does not read 32 rows to use five. Only a guess (another instance may
  // have answered since): the pages go on until the window is full.
  const lastRead = cache.windowOf(conv.id);
  let page = lastRead === undefined ? FIRST_PAGE : Math.min(lastRead + 3, MAX_PAGE);
  let consumed = 0;
  let full = false;
  while (!full) {
    const rows = await messages.newest(conv.id, {
      afterSeq: conv.contextStartSeq,
      ...(beforeSeq !== undefined ? { beforeSeq } : {}),
      limit: page,
    });
    rowsRead += rows.length;
    for (const r of rows) {
      beforeSeq = r.seq;
      consumed++;
      if (r.kind === 'system-notice') continue;
      const cost = messageCost(r, input.chatType);
      if (used + cost > input.budgetTokens) {
        full = true;
        break;
      }
      used += cost;
      history.push(toModelMessage(r, input.chatType, false));
    }
    if (rows.length < page) break;
    page = Math.min(Math.max(page * 2, FIRST_PAGE), MAX_PAGE);
  }
  cache.setWindow(conv.id, consumed);
  history.reverse();
  const historyIncluded = history.length;
  // Depth 0 sits right before the message being answered; deeper blocks further back. The
  // deepest go in first, so each depth still counts the history messages after it.
  const chat = [...history, ...(input.current ? [tail.shift()!] : [])];
  for (const b of [...atDepth].sort((x, y) => y.position.depth - x.position.depth)) {
    const at = Math.max(0, chat.length - (input.current ? 1 : 0) - b.position.depth);
    chat.splice(at, 0, { role: b.position.role, content: b.text });
  }
  return {
    messages: [{ role: 'system', content: systemText }, ...chat, ...tail],
    promptTokens: used,
    rowsRead,
    historyIncluded,
    leftOut: fitting.leftOut,
  };
}

function prefixFor(role: StoredMessage['role'], authorName: string | null, chatType: ChatType): string {
  return role === 'user' && chatType !== 'dm' && authorName ? `${authorName}: ` : '';
}

function speakerPrefix(m: StoredMessage, chatType: ChatType): string {
  return prefixFor(m.role, m.authorName, chatType);
}

/** What a message costs in the context: its text, who said it in a group, the message's own overhead, its pictures. */
function costOf(role: StoredMessage['role'], authorName: string | null, tokens: number, images: number, chatType: ChatType): number {
  const prefix = prefixFor(role, authorName, chatType);
  return tokens + (prefix ? countTokens(prefix) : 0) + TOKENS_PER_MESSAGE + images * TOKENS_PER_IMAGE;
}

function messageCost(m: StoredMessage, chatType: ChatType): number {
  return costOf(m.role, m.authorName, m.tokenCount, m.imageUrls.length, chatType);
}

/**
 * Only the message being answered carries its images as image parts; older images are noted
 * in text, so a long chat with photos does not resend every image on every turn.
 */
function toModelMessage(m: StoredMessage, chatType: ChatType, isCurrent: boolean): ModelMessage {
  const role = m.role === 'user' ? 'user' : m.role === 'assistant' ? 'assistant' : 'system';
  const text = `${speakerPrefix(m, chatType)}${m.content}`;
  if (!m.imageUrls.length) return { role, content: text };
  if (!isCurrent || role !== 'user') return { role, content: `${text}${text ? ' ' : ''}[sent ${m.imageUrls.length} image(s)]` };
  const parts: ContentPart[] = [];
  if (text) parts.push({ type: 'text', text });
  for (const url of m.imageUrls) parts.push({ type: 'image_url', image_url: { url } });
  return { role: 'user', content: parts };
}
