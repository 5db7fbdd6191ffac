import type { Config } from '../config.js';
import type { Engine } from '../engine/index.js';
import type { Logger } from '../log.js';
import type { ChatService } from '../services/chat.js';
import type { Store } from '../store/index.js';
import type { ProactiveScheduler } from '../scheduler/index.js';
import type { PlatformStatusSource } from '../core/platform-status.js';

/**
 * What every route module receives. One ChatService per app, so the v1 routes and the other
 * dialects (issue 6) share credits, idempotency and sessions without a second copy.
 */
export interface HttpContext {
  config: Config;
  store: Store;
  engine: Engine;
  log: Logger;
  chat: ChatService;
  /** The proactive scheduler, for the per-conversation policy routes; absent in tests that don't need it. */
  scheduler?: ProactiveScheduler | undefined;
  /** The platform adapters' states, for GET /api/v1/platforms. */
  platformStatus: PlatformStatusSource;
}
