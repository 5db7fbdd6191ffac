import type { Clock } from '../core/clock.js';
import type { Character, Conversation, StoredMessage } from '../core/types.js';
import type { Logger } from '../log.js';
import type { ModelClient } from '../llm/index.js';
import type { Store } from '../store/index.js';
import type { RateLimits, Semaphore } from './limits.js';

/** What the engine needs from the configuration. */
export interface EngineConfig {
  adminUserIds: string[];
  defaultCharacter: string;
  userPerMin: number;
  groupPerMin: number;
  apiKeyPerMin: number;
  contextTokens: number;
  maxTokens: number;
  /** How long a claimed-but-unfinished event blocks redelivery before another process may take it. */
  eventLeaseMs: number;
}

/** Everything the engine uses, passed in so tests run the real engine against fakes. */
export interface EngineDeps {
  store: Store;
  model: ModelClient;
  clock: Clock;
  log: Logger;
  config: EngineConfig;
  limits: RateLimits;
  modelSlots: Semaphore;
  hooks?: EngineHooks;
}

/** Observers of what the engine stores (the proactive scheduler re-times a conversation on each message). */
export interface EngineHooks {
  afterMessage?(conversation: Conversation, character: Character, message: StoredMessage): Promise<void>;
}
