import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { StartupWait } from '../core/startup-wait.js';
import { holdSoleInstanceLock, openDatabase, pendingMigrations, priorityLane, type DB } from './db.js';
import { Downtime } from './pg-outage.js';
import type { DialectName } from './dialect.js';
import { CharacterRepo } from './characters.js';
import { ConversationRepo } from './conversations.js';
import { MessageRepo } from './messages.js';
import { SettingsRepo } from './settings.js';
import { EventRepo } from './events.js';
import { InstanceRepo } from './instances.js';
import { CallTallyRepo } from './call-tally.js';
import { SendMarkRepo } from './send-marks.js';
import { UsageRepo } from './usage.js';
import { ApiKeyRepo } from './api-keys.js';
import { UpdateRepo } from './updates.js';
import { IdempotencyRepo } from './idempotency.js';
import { ProactiveRepo } from './proactive.js';
import { WebhookRepo } from './webhooks.js';
import { ConsoleSessionRepo } from './console-sessions.js';
import { ActivityRepo } from './activity.js';
import { LorebookRepo } from './lorebooks.js';
import { PersonaRepo } from './personas.js';
import { MemoryRepo } from './memory.js';
import { RecallRepo } from './recall.js';
import { EmbeddingRepo } from './embeddings.js';

export type { DB } from './db.js';
export { isPostgresUrl } from './db.js';
export type { DialectName } from './dialect.js';
export { CharacterRepo, characterInputFrom, slugify, PRESET_OWNER, type CharacterInput } from './characters.js';
export { ConversationRepo } from './conversations.js';
export { MessageRepo, type NewMessage } from './messages.js';
export { SettingsRepo, DEFAULT_CHAT_SETTINGS, type ChatSettings, type Scope, type Engage } from './settings.js';
export { EventRepo, type Claim, type AbandonedEvent } from './events.js';
export { InstanceRepo } from './instances.js';
export { CallTallyRepo, CALL_KEPT_MS } from './call-tally.js';
export { SendMarkRepo } from './send-marks.js';
export { UsageRepo, USAGE_GROUPS, type UsageTotals, type UsageFigures, type UsageGroup, type UsageReportQuery, type UsageReportRow } from './usage.js';
export { ConsoleSessionRepo, type ConsoleSession } from './console-sessions.js';
export { ActivityRepo, type ProactiveSend } from './activity.js';
export { LorebookRepo, type LorebookRecord, type LoreTarget, type LoreTargetKind, type LoreActivityRecord } from './lorebooks.js';
export { PersonaRepo, type Persona } from './personas.js';
export type { StoredCard, StoredAvatar } from './characters.js';
export { ApiKeyRepo, hashApiKey, generateApiKey, type ApiKey, type ApiKeyPatch } from './api-keys.js';
export { UpdateRepo, type Update, type UpdateKind, type NewUpdate, type UpdateQuery } from './updates.js';
export { IdempotencyRepo, IDEMPOTENCY_TTL_MS, type IdempotencyBegin, type IdempotencyOwner, type PendingClaim } from './idempotency.js';
export type { CharacterListQuery, CharacterOwnership } from './characters.js';
export type { ConversationListQuery, ConversationSummary } from './conversations.js';
export { WebhookRepo, WEBHOOK_DISABLE_AFTER, proactiveEventId, type WebhookDelivery } from './webhooks.js';
export { MemoryRepo, type LearntFacts, type MemoryFact, type MemoryOwner, type MemoryProgress } from './memory.js';
export { RecallRepo, searchWords, COMMON_WORD_DOCS, type RecalledLine, type RecallQuery } from './recall.js';
export { EmbeddingRepo, encodeVector, decodeVector, type StoredEmbedding } from './embeddings.js';
export { ProactiveRepo, type ProactiveRecord, type ProactivePolicyOverrides, type OutboxRow } from './proactive.js';

/** Every repository over one database handle. Only `src/store/` touches the database. */
export interface Store {
  db: DB;
  /** Which engine `db` talks to; repositories hide the difference, tests and benches report it. */
  dialect: DialectName;
  characters: CharacterRepo;
  conversations: ConversationRepo;
  messages: MessageRepo;
  settings: SettingsRepo;
  events: EventRepo;
  instances: InstanceRepo;
  /** Calls a platform limits per app or per chat, counted across restarts (a single instance's Slack tiers and chat windows). */
  callTally: CallTallyRepo;
  /** What adapters noted about sends in progress, read back when a reply is sent again after a crash. */
  sendMarks: SendMarkRepo;
  usage: UsageRepo;
  apiKeys: ApiKeyRepo;
  updates: UpdateRepo;
  idempotency: IdempotencyRepo;
  proactive: ProactiveRepo;
  webhooks: WebhookRepo;
  consoleSessions: ConsoleSessionRepo;
  activity: ActivityRepo;
  lorebooks: LorebookRepo;
  personas: PersonaRepo;
  /** Long-term memory: facts, summaries, extraction progress. */
  memory: MemoryRepo;
  /** Full-text search of stored messages (memory's recall). */
  recall: RecallRepo;
  /** Message embeddings for recall by meaning (EMBEDDINGS_MODEL). */
  embeddings: EmbeddingRepo;
  /**
   * Take, and keep until `close`, a lock only one living process can hold on this database (a
   * SQLite file): true proves that every other process that ran on it has stopped. False when
   * another holds it, or the database cannot tell (PostgreSQL, `:memory:`).
   */
  claimSoleInstance(): boolean;
  /** Milliseconds the database has been unreachable so far in this process (0 for SQLite): waits bounded in time stop counting meanwhile. */
  downtime(): number;
  /** Migrations not run yet (empty once migrated); rejects when the database does not answer. */
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Open the store `url` names and migrate it: a `postgres://` or `postgresql://` URL opens a
 * PostgreSQL pool; anything else is a SQLite file path (`:memory:` for a private database).
 * @example const store = await openStore(':memory:');
 * @example const store = await openStore('postgres://charbridge@db.internal:5432/charbridge');
 * `startupWait`: a PostgreSQL server not up yet is waited for instead of failing the open.
 */
export async function openStore(url: string, clock: Clock = systemClock, opts: { startupWait?: StartupWait } = {}): Promise<Store> {
  // How long the database has been unreachable, as this store's pools found it.
  const downtime = new Downtime();
  const { db, dialect } = await openDatabase(url, opts.startupWait, downtime);
  const lane = priorityLane(url, db, downtime);
  const instances = new InstanceRepo(db);
  const apiKeys = new ApiKeyRepo(db, clock, dialect);
  let releaseSole: (() => void) | undefined;
  return {
    db,
    dialect: dialect.name,
    characters: new CharacterRepo(db, clock, dialect),
    conversations: new ConversationRepo(db, clock, dialect),
    messages: new MessageRepo(db, clock, dialect),
    settings: new SettingsRepo(db, clock),
    events: new EventRepo(db, instances, lane),
    instances,
    callTally: new CallTallyRepo(db),
    sendMarks: new SendMarkRepo(db, clock),
    usage: new UsageRepo(db, clock),
    apiKeys,
    updates: new UpdateRepo(db, clock, dialect),
    idempotency: new IdempotencyRepo(db, instances),
    proactive: new ProactiveRepo(db, instances, apiKeys),
    webhooks: new WebhookRepo(db, dialect, instances),
    consoleSessions: new ConsoleSessionRepo(db, clock),
    activity: new ActivityRepo(db),
    lorebooks: new LorebookRepo(db, clock, dialect),
    personas: new PersonaRepo(db, clock),
    memory: new MemoryRepo(db, clock),
    recall: new RecallRepo(db, dialect.name),
    embeddings: new EmbeddingRepo(db),
    claimSoleInstance: () => (releaseSole ??= holdSoleInstanceLock(url)) !== undefined,
    downtime: () => downtime.soFar(),
    pendingMigrations: () => pendingMigrations(db, dialect.name),
    close: async () => {
      releaseSole?.();
      if (lane !== db) await lane.destroy();
      await db.destroy();
    },
  };
}
