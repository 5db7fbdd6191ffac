import type { Clock } from '../core/clock.js';
import type { OwedWrites } from '../core/owed-writes.js';
import type { TaskTracker } from '../core/tasks.js';
import type { Character, Conversation, StoredMessage } from '../core/types.js';
import type { Logger } from '../log.js';
import type { ModelClient } from '../llm/index.js';
import type { DB, Store } from '../store/index.js';
import type { AnsweredNotes, ChatOrder, Notices, RateLimits, Semaphore } from './limits.js';
import type { PromptCache } from './context.js';
import type { RefusedTurns } from './refusals.js';
import type { ContextProvider } from './context-blocks.js';

/** What the engine needs from the configuration. */
export interface EngineConfig {
  adminUserIds: string[];
  defaultCharacter: string;
  userPerMin: number;
  groupPerMin: number;
  apiKeyPerMin: number;
  /**
   * Turns of one tenant key an hour the model may refuse (or answer with nothing), which cost no
   * credit yet store their message; past that, the key's turns are refused before anything is
   * stored until the hour is over. Absent or 0: no such limit.
   */
  refusedTurnsPerHour?: number;
  contextTokens: number;
  maxTokens: number;
  /** Models tried in order when the character's (or the configured) model fails. */
  fallbackModels: readonly string[];
  /** How long a claim made before instances were tracked blocks redelivery. */
  eventLeaseMs: number;
  /** This process, as the owner of what it claims (its heartbeat keeps its claims its own). */
  instanceId: string;
  /** An instance not seen for this long is dead: live ones take over what it claimed. */
  deadAfterMs: number;
}

/** A message the engine stored (either side), as announced to subscribers. */
export interface StoredMessageEvent {
  conversation: Conversation;
  character: Character;
  message: StoredMessage;
}

/** Told about every message a turn stores; awaited, and a failure never breaks the turn. */
export type MessageListener = (e: StoredMessageEvent) => Promise<void> | void;
/**
 * Writes that belong with a stored message, run inside the transaction that stores it (`tx`):
 * they commit or fail with it, and cost no commit of their own.
 */
export type MessageWriter = (tx: DB, e: StoredMessageEvent) => Promise<void>;

/**
 * Everything the engine's steps use. Private to the engine: services and the scheduler get
 * what they need passed in directly, and talk to the engine only through its methods.
 */
export interface EngineDeps {
  store: Store;
  model: ModelClient;
  clock: Clock;
  log: Logger;
  config: EngineConfig;
  limits: RateLimits;
  /** Tenant keys' turns the model refused, and the keys closed for the hour (absent: no such limit). */
  refusals?: RefusedTurns;
  modelSlots: Semaphore;
  /** One notice per limited key and window. */
  notices: Notices;
  /** Turn order of a chat across instances; absent when this process is the only one. */
  chatOrder?: ChatOrder;
  /** A quick record of answered platform messages, shared by the instances (Redis); absent for one. */
  answered?: AnsweredNotes;
  listeners: MessageListener[];
  writers: MessageWriter[];
  prompts: PromptCache;
  /** Sources of extra context every model turn asks (lorebooks, personas, memory). */
  contextProviders: ContextProvider[];
  /** Work that outlives the turn that started it; the engine's drain waits for it. */
  tasks: TaskTracker;
  /** Closing writes the database was down for, tried again on every recovery sweep. */
  owed: OwedWrites;
}
