import type { TokenUsage } from '../../core/types.js';
import type { DB } from '../../store/index.js';
import { CharbridgeError, ModelError } from '../../core/errors.js';
import { countTokens } from '../../llm/index.js';
import { buildContext } from '../context.js';
import { streamWithFallback, type ModelAnswer } from '../model-call.js';
import type { ContextBlock, ContextProvider, ProviderInput } from '../context-blocks.js';
import { announce, writeAlongside } from '../events.js';
import type { MessageContext, Step, TurnContext } from '../pipeline.js';
import { serialKeyFor } from '../scoping.js';
import { resolved } from '../pipeline.js';

/** Every provider's blocks for this turn, by provider; a provider that fails is logged and left out. */
async function contextBlocks(ctx: TurnContext, input: ProviderInput): Promise<Array<{ provider: ContextProvider; blocks: ContextBlock[] }>> {
  return Promise.all(
    ctx.deps.contextProviders.map(async (provider) => {
      try {
        return { provider, blocks: await provider.blocks(input) };
      } catch (err) {
        ctx.deps.log.warn({ err, provider: provider.name, conversationId: input.conversation.id }, 'a context provider failed; answering without it');
        return { provider, blocks: [] };
      }
    }),
  );
}

/** Tells each provider that gave blocks which of them the turn left out (see `ContextProvider.settled`). */
async function settleBlocks(ctx: TurnContext, offered: Array<{ provider: ContextProvider; blocks: ContextBlock[] }>, leftOut: readonly ContextBlock[], conversationId: string): Promise<void> {
  const out = new Set(leftOut);
  await Promise.all(
    offered.map(async ({ provider, blocks }) => {
      if (!provider.settled || !blocks.length) return;
      try {
        await provider.settled(blocks, blocks.filter((b) => out.has(b)));
      } catch (err) {
        ctx.deps.log.warn({ err, provider: provider.name, conversationId }, 'a context provider could not note which of its blocks the turn used');
      }
    }),
  );
}

/** Whose share of the model slots a turn uses: its paying key, else its chat. */
function slotOwner(ctx: TurnContext): string {
  if (ctx.payer) return `key:${ctx.payer.keyId}`;
  if (ctx.source === 'platform') return `chat:${(ctx as MessageContext).serialKey}`;
  return ctx.conversation ? `chat:${serialKeyFor(ctx.conversation)}` : 'chat:';
}

/** What the user sees when the model fails: short, neutral, never a stack trace. */
export const MODEL_FAILURE_TEXT = "Sorry, I couldn't come up with a reply just now. Please try again in a moment.";

/**
 * Character prompt → context window → model (under the global concurrency cap) → persist the
 * reply and its usage. Events go to `ctx.out` as they happen; the outcome goes to `ctx.result`.
 */
export const respond: Step = async (ctx) => {
  const { store, model, log, config } = ctx.deps;
  const { conversation: conv, character } = resolved(ctx);
  const userMessage = ctx.userMessage;
  // The message being answered goes to the model with the pictures the turn holds: the stored
  // row keeps only a note of each (see `keptImage`).
  const current = userMessage && ctx.user?.imageUrls.length ? { ...userMessage, imageUrls: ctx.user.imageUrls } : userMessage;
  const modelName = character.model ?? model.defaultModel;
  // A turn run again after a crash may have stored its reply already: deliver that, never ask
  // the model a second time.
  const replyEvent = ctx.replyKey ?? (ctx.user?.sourceEvent ? `${ctx.user.sourceEvent}:reply` : undefined);
  const prior = replyEvent && (ctx.rerun || ctx.durable?.resumed) ? await store.messages.bySourceEvent(replyEvent) : undefined;
  if (prior) {
    const usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
    ctx.out.push({ type: 'start', conversationId: conv.id, characterId: character.id, characterName: character.name });
    ctx.out.push({ type: 'done', conversationId: conv.id, message: { id: prior.id, content: prior.content, sentAt: prior.createdAt }, usage });
    ctx.result = { ok: true, message: prior, usage, model: modelName, userMessage };
    return;
  }
  const offered = await contextBlocks(ctx, { character, conversation: conv, userName: ctx.userName, chatType: ctx.chatType, current, turn: ctx });
  const blocks = offered.flatMap((o) => o.blocks);
  const built = await buildContext(
    store.messages,
    { character, conversation: conv, userName: ctx.userName, chatType: ctx.chatType, current, instruction: ctx.instruction, blocks, budgetTokens: config.contextTokens, now: new Date(ctx.deps.clock.now()) },
    ctx.deps.prompts,
  );
  if (built.leftOut.length) {
    log.info({ conversationId: conv.id, characterId: character.id, left: built.leftOut.length, offered: blocks.length }, 'lorebook or memory context left out: the character prompt and the message leave no room for it within CONTEXT_TOKENS');
  }
  await settleBlocks(ctx, offered, built.leftOut, conv.id);

  ctx.out.push({ type: 'start', conversationId: conv.id, characterId: character.id, characterName: character.name });
  const release = await ctx.deps.modelSlots.acquire(slotOwner(ctx));
  const noTokens = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
  let answer: ModelAnswer;
  try {
    const deferDeltas = ctx.accept !== undefined;
    answer = await streamWithFallback(model, {
      messages: built.messages,
      models: [...new Set([modelName, ...character.fallbackModels, ...config.fallbackModels])],
      maxTokens: config.maxTokens,
      signal: ctx.signal,
      onDelta: (text) => void (deferDeltas || ctx.out.push({ type: 'delta', text })),
      onFailure: async (failed, error) => {
        log.warn({ err: error, code: error.code, conversationId: conv.id, model: failed }, 'model failed; trying the next one');
        await recordUsage(ctx, failed, noTokens, error.code);
      },
    });
  } catch (err) {
    const error = err instanceof CharbridgeError ? err : new ModelError(String(err), err);
    log.warn({ err: error, code: error.code, conversationId: conv.id, model: model.label }, 'model turn failed');
    await recordUsage(ctx, modelName, noTokens, error.code);
    ctx.out.push({ type: 'error', text: MODEL_FAILURE_TEXT, error });
    ctx.result = { ok: false, error, userMessage };
    return;
  } finally {
    release();
  }
  const { text, model: answeredBy } = answer;
  // The reply is tokenized once: its stored token count and, when the model reported none, its usage.
  const replyTokens = countTokens(text);
  let usage: TokenUsage = answer.usage ?? { promptTokens: built.promptTokens, completionTokens: 0, totalTokens: built.promptTokens };
  if (!usage.completionTokens) usage = { promptTokens: usage.promptTokens, completionTokens: replyTokens, totalTokens: usage.promptTokens + replyTokens };
  if (ctx.accept && !ctx.accept(text)) {
    ctx.result = { ok: true, message: null, discarded: text, usage, model: answeredBy, userMessage };
    return;
  }
  const message = await store.messages.append({
    conversationId: conv.id,
    role: 'assistant',
    kind: ctx.replyKind ?? 'assistant',
    content: text.trim(),
    tokenCount: replyTokens,
    authorId: character.id,
    authorName: character.name,
    sourceEvent: replyEvent ?? null,
  }, {
    alongside: async (tx, stored) => {
      await recordUsage(ctx, answeredBy, usage, null, tx);
      await writeAlongside(ctx.deps, tx, { conversation: conv, character, message: stored });
      await ctx.alongside?.(tx, stored);
    },
  });
  await announce(ctx.deps, { conversation: conv, character, message });
  ctx.out.push({ type: 'done', conversationId: conv.id, message: { id: message.id, content: message.content, sentAt: message.createdAt }, usage });
  ctx.result = { ok: true, message, usage, model: answeredBy, userMessage };
};

/**
 * One usage row per turn; a failed turn (errorCode set) records no tokens and no credits. A reply's
 * row is written in the reply's own transaction (`within`): charged exactly when it is stored.
 */
async function recordUsage(ctx: TurnContext, model: string, usage: TokenUsage, errorCode: string | null, within?: DB): Promise<void> {
  const { conversation, character } = resolved(ctx);
  const record = ctx.deps.store.usage.record({
    conversationId: conversation.id,
    characterId: character.id,
    apiKeyId: ctx.payer?.apiKeyId ?? null,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    credits: errorCode ? 0 : (ctx.payer?.cost ?? 0),
    model,
    platform: conversation.platform,
    errorCode,
  }, within);
  if (!errorCode) return record;
  // Counting a failure must never turn into a second failure of the turn.
  await record.catch((err: unknown) => ctx.deps.log.warn({ err, conversationId: conversation.id }, 'could not record a failed turn'));
}
