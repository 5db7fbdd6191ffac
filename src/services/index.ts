import type { Clock } from '../core/clock.js';
import type { Engine, RateLimits } from '../engine/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { Authenticator } from './access.js';
import { ApiKeyService } from './api-keys.js';
import { CharacterService } from './characters.js';
import { ChatService } from './chat.js';
import { ImageFetcher, type ImageFetchOptions } from './image-fetch.js';
import { ConversationService } from './conversations.js';
import { UpdateFeed } from './updates.js';
import { ConsoleSessions } from './console-sessions.js';
import { UsageService } from './usage.js';
import { PlatformOverview } from './platform-status.js';
import type { PlatformStatusSource } from '../core/platform-status.js';
import type { AdapterStatus } from '../core/adapter.js';
import { Readiness } from './readiness.js';
import { LorebookService } from './lorebooks.js';
import type { Coordination } from '../coord/index.js';
import { MemoryService } from './memory.js';
import { MemoryControl } from '../memory/index.js';

export { Authenticator, adminCaller, keyCaller, type Caller } from './access.js';
export { ApiKeyService } from './api-keys.js';
export { CharacterService } from './characters.js';
export { ChatService, type ChatRequest, type ChatReply, type ChatTurn, type ChatOutcome } from './chat.js';
export { ConversationService, apiGroupChatKey, metadataOf, HISTORY_LIMIT, type ConversationMetadata } from './conversations.js';
export { UpdateFeed } from './updates.js';
export { ConsoleSessions, csrfTokenFor, type SessionView } from './console-sessions.js';
export { UsageService } from './usage.js';
export { PlatformOverview, platformStatus } from './platform-status.js';
export { ImageFetcher, type ImageFetchOptions } from './image-fetch.js';
export { safeFetch, SafeFetchError, systemResolve, realTimer, type Resolve, type StartTimer, type SafeFetchPolicy } from './safe-fetch.js';
export { Readiness, type ReadinessCheck, type ReadinessReport } from './readiness.js';
export { LorebookService, type LorebookView, type LorebookInput, type LorebookFormat } from './lorebooks.js';
export { MemoryService, type MemoryView } from './memory.js';

/** The logic every HTTP API shares, one instance each per server. */
export interface Services {
  access: Authenticator;
  chat: ChatService;
  conversations: ConversationService;
  characters: CharacterService;
  updates: UpdateFeed;
  apiKeys: ApiKeyService;
  usage: UsageService;
  platforms: PlatformOverview;
  consoleSessions: ConsoleSessions;
  readiness: Readiness;
  lorebooks: LorebookService;
  memory: MemoryService;
}

export interface ServiceParts {
  store: Store;
  engine: Engine;
  log: Logger;
  clock: Clock;
  /** The same limits the engine uses, so a key's budget is one budget. */
  limits: RateLimits;
  apiKeyPerMin: number;
  adminApiKey: string | undefined;
  /** SSRF_ALLOW_HOSTS, for webhook URLs set on keys. */
  ssrfAllowHosts: readonly string[];
  /** How `imageUrl`s are fetched (SSRF_ALLOW_HOSTS, MAX_IMAGE_BYTES, IMAGE_FETCH_TIMEOUT_MS); tests pin `resolve`. */
  imageFetch: ImageFetchOptions;
  defaultCharacter: string;
  /** The configured model and MODEL_ALLOWLIST: what tenants may name on their characters. */
  models: { model: string; allowlist: readonly string[] };
  /** The adapters' states, for the operator's platforms page. */
  platformStatus: PlatformStatusSource;
  consoleSessionMs: number;
  /** The running adapters' live states, for readiness; none when no adapter runs. */
  adapterStates?: () => readonly AdapterStatus[];
  /** In a running process, what its start still waits for (undefined once started), for readiness. */
  starting?: () => string | undefined;
  /** Where instances meet (Redis): repeated Idempotency-Keys wait across them; readiness asks it. */
  coordination?: Pick<Coordination, 'kind' | 'bus' | 'ping'>;
  /** Per tenant key: characters and lorebooks it may own (MAX_CHARACTERS_PER_KEY, MAX_LOREBOOKS_PER_KEY), long-polls it may hold (MAX_LONG_POLLS_PER_KEY). */
  quotas?: { charactersPerKey: number; lorebooksPerKey: number; longPollsPerKey: number };
  /** This process as an owner of work (its heartbeat in `instances`): pending Idempotency-Keys name it. */
  instance?: { id: string; deadAfterMs: number };
  /** Long-term memory's controls (the runtime's, so MEMORY_MAX_FACTS applies); a default one otherwise. */
  memory?: MemoryControl;
}

/** Build the services over one store and engine. */
export function createServices(p: ServiceParts): Services {
  const access = new Authenticator(p.store, p.adminApiKey, p.limits, p.apiKeyPerMin);
  return {
    access,
    chat: new ChatService({
      store: p.store,
      engine: p.engine,
      log: p.log,
      clock: p.clock,
      images: new ImageFetcher(p.imageFetch),
      instance: p.instance,
      ...(p.coordination?.kind === 'redis' ? { idempotencyBus: { bus: p.coordination.bus, waitMs: 30_000 } } : {}),
    }),
    conversations: new ConversationService(p.store, p.engine),
    characters: new CharacterService(p.store, p.defaultCharacter, p.models, p.quotas?.charactersPerKey),
    updates: new UpdateFeed(p.store, p.quotas?.longPollsPerKey),
    apiKeys: new ApiKeyService(p.store, p.ssrfAllowHosts),
    usage: new UsageService(p.store, p.clock),
    platforms: new PlatformOverview(p.store, p.platformStatus),
    memory: new MemoryService(p.store, p.engine, p.memory ?? new MemoryControl(p.store, 50)),
    consoleSessions: new ConsoleSessions(p.store, access, { adminApiKey: p.adminApiKey, ttlMs: p.consoleSessionMs }),
    readiness: new Readiness(p.store, p.adapterStates, p.coordination?.kind === 'redis' ? () => p.coordination!.ping() : undefined, p.starting),
    lorebooks: new LorebookService(p.store, p.quotas?.lorebooksPerKey),
  };
}
