import type { Character, ChatType, Conversation, MessageKind, StoredMessage, TokenUsage } from '../core/types.js';
import { CharbridgeError, ModelError } from '../core/errors.js';
import { countTokens } from '../llm/index.js';
import type { EngineDeps } from './deps.js';
import { buildContext } from './context.js';
import type { ReplyStream } from './reply-stream.js';

export interface TurnInput {
  conversation: Conversation;
  character: Character;
  chatType: ChatType;
  userName: string;
  /** The user's message; stored before the model is called. Absent for proactive turns. */
  user?: { text: string; imageUrls: string[]; authorId: string | null; authorName: string | null; sourceEvent?: string } | undefined;
  /** Kind of the stored reply: `assistant`, or `proactive` for turns the character starts. */
  replyKind?: Extract<MessageKind, 'assistant' | 'proactive'>;
  /** Extra system instruction after the history (the proactive prompt). */
  instruction?: string | undefined;
  /** Return false to discard the reply instead of storing it (the proactive "nothing to say"). */
  accept?: ((text: string) => boolean) | undefined;
  /** Credits to record with the usage row (HTTP API keys). */
  apiKeyId?: string | null | undefined;
  credits?: number | undefined;
  signal?: AbortSignal | undefined;
}

export type TurnResult =
  | { ok: true; message: StoredMessage; usage: TokenUsage; userMessage: StoredMessage | undefined }
  | { ok: true; message: null; discarded: string; usage: TokenUsage; userMessage: StoredMessage | undefined }
  | { ok: false; error: CharbridgeError; userMessage: StoredMessage | undefined };

/** What the user sees when the model fails: short, neutral, never a stack trace. */
export const MODEL_FAILURE_TEXT = "Sorry, I couldn't come up with a reply just now. Please try again in a moment.";

/**
 * One model turn, shared by platforms, the HTTP API and the scheduler: store the user message
 * (so a crash loses nothing accepted), build the context under the token budget, stream the
 * model under the global concurrency cap, then persist the reply and its usage. Events go to
 * `out` as they happen; the caller owns ending it.
 */
export async function runTurn(deps: EngineDeps, input: TurnInput, out: ReplyStream): Promise<TurnResult> {
  const { store, model, log } = deps;
  const { conversation: conv, character } = input;
  let userMessage: StoredMessage | undefined;
  if (input.user) {
    userMessage = await store.messages.append({
      conversationId: conv.id,
      role: 'user',
      kind: 'user',
      content: input.user.text,
      imageUrls: input.user.imageUrls,
      tokenCount: countTokens(input.user.text),
      authorId: input.user.authorId,
      authorName: input.user.authorName,
      sourceEvent: input.user.sourceEvent ?? null,
    });
    await notify(deps, conv, character, userMessage);
  }
  const ctx = await buildContext(store.messages, {
    character,
    conversation: conv,
    userName: input.userName,
    chatType: input.chatType,
    current: userMessage,
    instruction: input.instruction,
    budgetTokens: deps.config.contextTokens,
  });

  out.push({ type: 'start', conversationId: conv.id, characterId: character.id, characterName: character.name });
  const release = await deps.modelSlots.acquire();
  let text = '';
  let usage: TokenUsage = { promptTokens: ctx.promptTokens, completionTokens: 0, totalTokens: ctx.promptTokens };
  try {
    const chunks = model.stream({ messages: ctx.messages, model: character.model ?? undefined, maxTokens: deps.config.maxTokens, signal: input.signal });
    const deferDeltas = input.accept !== undefined;
    for await (const chunk of chunks) {
      if (chunk.type === 'delta') {
        text += chunk.text;
        if (!deferDeltas) out.push({ type: 'delta', text: chunk.text });
      } else if (chunk.promptTokens || chunk.completionTokens) {
        usage = { promptTokens: chunk.promptTokens, completionTokens: chunk.completionTokens, totalTokens: chunk.promptTokens + chunk.completionTokens };
      }
    }
    if (!text.trim()) throw new ModelError('The model returned an empty reply');
  } catch (err) {
    const error = err instanceof CharbridgeError ? err : new ModelError(err instanceof Error ? err.message : String(err), err);
    log.warn({ err: error, code: error.code, conversationId: conv.id, model: model.label }, 'model turn failed');
    await recordUsage(deps, input, { promptTokens: 0, completionTokens: 0, totalTokens: 0 }, error.code);
    out.push({ type: 'error', text: MODEL_FAILURE_TEXT, error });
    return { ok: false, error, userMessage };
  } finally {
    release();
  }
  if (!usage.completionTokens) {
    const completionTokens = countTokens(text);
    usage = { promptTokens: usage.promptTokens, completionTokens, totalTokens: usage.promptTokens + completionTokens };
  }
  if (input.accept && !input.accept(text)) {
    return { ok: true, message: null, discarded: text, usage, userMessage };
  }
  const message = await store.messages.append({
    conversationId: conv.id,
    role: 'assistant',
    kind: input.replyKind ?? 'assistant',
    content: text.trim(),
    tokenCount: countTokens(text),
    authorId: character.id,
    authorName: character.name,
  });
  await notify(deps, conv, character, message);
  await recordUsage(deps, input, usage, null);
  out.push({ type: 'done', conversationId: conv.id, message: { id: message.id, content: message.content, sentAt: message.createdAt }, usage });
  return { ok: true, message, usage, userMessage };
}

/** One usage row per turn; a failed turn (errorCode set) records no tokens and no credits. */
async function recordUsage(deps: EngineDeps, input: TurnInput, usage: TokenUsage, errorCode: string | null): Promise<void> {
  const record = deps.store.usage.record({
    conversationId: input.conversation.id,
    characterId: input.character.id,
    apiKeyId: input.apiKeyId ?? null,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    credits: errorCode ? 0 : (input.credits ?? 0),
    model: input.character.model ?? deps.model.label.replace(/^openai:/, ''),
    platform: input.conversation.platform,
    errorCode,
  });
  if (!errorCode) return record;
  // Counting a failure must never turn into a second failure of the turn.
  await record.catch((err: unknown) => deps.log.warn({ err, conversationId: input.conversation.id }, 'could not record a failed turn'));
}

/** Tell observers about a stored message; their failure never breaks a turn. */
async function notify(deps: EngineDeps, conv: Conversation, character: Character, message: StoredMessage): Promise<void> {
  if (!deps.hooks?.afterMessage) return;
  try {
    await deps.hooks.afterMessage(conv, character, message);
  } catch (err) {
    deps.log.warn({ err, conversationId: conv.id }, 'afterMessage hook failed');
  }
}
