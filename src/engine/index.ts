import type { Clock } from '../core/clock.js';
import { TaskTracker } from '../core/tasks.js';
import { OwedWrites } from '../core/owed-writes.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ModelClient } from '../llm/index.js';
import type { Store } from '../store/index.js';
import type { EngineConfig, EngineDeps } from './deps.js';
import { Engine, type EngineOptions } from './engine.js';
import { MemoryRateLimits, NoticeGate, Semaphore, type AnsweredNotes, type ChatOrder, type Notices, type RateLimits } from './limits.js';
import { PromptCache } from './context.js';
import { RefusedTurns } from './refusals.js';
import type { ContextProvider } from './context-blocks.js';
import { loreContextProvider } from './lore-context.js';
import { personaContextProvider } from './persona-context.js';

export { Engine, type EngineOptions } from './engine.js';
export type { EngineConfig, MessageListener, MessageWriter, StoredMessageEvent } from './deps.js';
export type { TurnFinishedEvent, TurnListener, TurnOutcome } from './turn-events.js';
export type { TurnRequest, TurnResult, StartedTurn } from './request.js';
export type { UserInput, Payer, DurableTurn, CreditsOwedBack, TurnContext, MessageContext, Step, TurnPersona } from './pipeline.js';
export { personaKeyOf } from './steps/persona.js';
export { ReplyStream } from './reply-stream.js';
export { MODEL_FAILURE_TEXT } from './steps/respond.js';
export { MemoryRateLimits, Semaphore, NoticeGate, type AnsweredNotes, type ChatOrder, type ChatTicket, type Notices, type RateLimits } from './limits.js';
export { buildContext, type BuiltContext } from './context.js';
export type { ContextBlock, ContextProvider, ProviderInput, BlockPosition } from './context-blocks.js';
export { buildSystemPrompt, greetingOf, substitute } from './prompt.js';
export { booksFor, loreReportOf, LORE_BUDGET_SHARE, type LoreReport } from './lore-context.js';
export { resolveCharacter, globalDefault } from './characters.js';
export { conversationKeyFor, chatKeyFor, bindingKeysFor, serialKeyFor } from './scoping.js';
export { parseCommand } from './steps/command.js';
export { rateLimitText } from './steps/limit.js';
export { UNSUPPORTED_MEDIA_TEXT } from './steps/media.js';
export type { Command, CommandResult } from './commands/index.js';
export { CLEARED_TEXT, REFUSAL_TEXT, commandMenu } from './commands/index.js';

/** The engine's slice of the configuration. */
export function engineConfigFrom(cfg: Config, instanceId: string): EngineConfig {
  return {
    adminUserIds: cfg.engine.adminUserIds,
    defaultCharacter: cfg.engine.defaultCharacter,
    userPerMin: cfg.limits.userPerMin,
    groupPerMin: cfg.limits.groupPerMin,
    apiKeyPerMin: cfg.limits.apiKeyPerMin,
    refusedTurnsPerHour: cfg.limits.refusedTurnsPerHour,
    contextTokens: cfg.model.contextTokens,
    maxTokens: cfg.model.maxTokens,
    fallbackModels: cfg.model.fallbacks,
    eventLeaseMs: 120_000,
    instanceId,
    deadAfterMs: cfg.runtime.instanceDeadAfterMs,
  };
}

/** Build an engine from its parts; tests pass their own store, model and clock. */
export function createEngine(
  parts: {
    store: Store;
    model: ModelClient;
    clock: Clock;
    log: Logger;
    config: EngineConfig;
    limits?: RateLimits;
    notices?: Notices;
    chatOrder?: ChatOrder;
    answered?: AnsweredNotes;
    modelConcurrency?: number;
    contextProviders?: ContextProvider[];
  },
  opts: EngineOptions = {},
): Engine {
  const limits = parts.limits ?? new MemoryRateLimits();
  const perHour = parts.config.refusedTurnsPerHour ?? 0;
  const deps: EngineDeps = {
    store: parts.store,
    model: parts.model,
    clock: parts.clock,
    log: parts.log,
    config: parts.config,
    limits,
    ...(perHour > 0 ? { refusals: new RefusedTurns(limits, perHour, () => parts.clock.now()) } : {}),
    modelSlots: new Semaphore(parts.modelConcurrency ?? 8),
    notices: parts.notices ?? new NoticeGate(),
    ...(parts.chatOrder ? { chatOrder: parts.chatOrder } : {}),
    ...(parts.answered ? { answered: parts.answered } : {}),
    listeners: [],
    writers: [],
    prompts: new PromptCache(),
    contextProviders: [
      loreContextProvider(parts.store, { contextTokens: parts.config.contextTokens, now: () => parts.clock.now(), log: parts.log, limits }),
      personaContextProvider(),
      ...(parts.contextProviders ?? []),
    ],
    tasks: new TaskTracker(),
    owed: new OwedWrites(),
  };
  return new Engine(deps, opts);
}
