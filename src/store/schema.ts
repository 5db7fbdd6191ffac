import type { Generated } from 'kysely';

/**
 * Row shapes of every table, as Kysely sees them. Booleans are 0/1 integers and JSON columns
 * are text so the same schema runs on SQLite and, later, PostgreSQL.
 */
export interface Database {
  characters: CharacterRow;
  conversations: ConversationRow;
  messages: MessageRow;
  bindings: BindingRow;
  chat_settings: ChatSettingsRow;
  processed_events: ProcessedEventRow;
  instances: InstanceRow;
  usage: UsageRow;
  usage_daily: UsageDailyRow;
  usage_days: UsageDayRow;
  api_keys: ApiKeyRow;
  proactive_outbox: ProactiveOutboxRow;
  updates: UpdateRow;
  idempotency_keys: IdempotencyRow;
  webhook_outbox: WebhookOutboxRow;
  console_sessions: ConsoleSessionRow;
  lorebooks: LorebookRow;
  lorebook_links: LorebookLinkRow;
  personas: PersonaRow;
  lore_activity: LoreActivityRow;
  memory_facts: MemoryFactRow;
  memory_owners: MemoryOwnerRow;
  memory_progress: MemoryProgressRow;
  memory_forgotten: MemoryForgottenRow;
  memory_embeddings: MemoryEmbeddingRow;
  call_tally: CallTallyRow;
  send_marks: SendMarkRow;
}

export interface CharacterRow {
  id: string;
  slug: string;
  /** '' for shipped presets, else the owning API key id (or 'admin'). */
  owner_id: string;
  is_public: number;
  name: string;
  personality: string;
  speaking_style: string;
  description: string | null;
  gender: string | null;
  age: number | null;
  occupation: string | null;
  appearance_description: string | null;
  avatar: string | null;
  profile_photo_url: string | null;
  can_initiate: number;
  scenario: string | null;
  greeting: string | null;
  example_dialogue: string | null;
  system_prompt: string | null;
  post_history_instructions: string | null;
  tags: string;
  /** Migration 041: JSON list of models tried after this character's own, before the configured fallbacks. */
  fallback_models: string;
  model: string | null;
  created_at: string;
  updated_at: string;
  /** Migration 031: card fields, the stored card and its picture. */
  platform_visible: number;
  nickname: string | null;
  alternate_greetings: string;
  group_greetings: string;
  /** The imported card as JSON (`{card, files?}`), never read by ordinary character reads. */
  card_json: string | null;
  avatar_image: Buffer | null;
  avatar_mime: string | null;
  /** Migration 039: what long-term memory should keep for this character. */
  memory_instructions: string | null;
}

export interface ConversationRow {
  id: string;
  scope_key: string | null;
  platform: string;
  chat_type: string;
  owner_id: string | null;
  character_id: string | null;
  context_start_seq: number;
  metadata: string | null;
  message_count: number;
  created_at: string;
  updated_at: string;
  last_user_at: string | null;
  last_assistant_at: string | null;
  /** Proactive policy and state (migration 003). Times are epoch ms. */
  proactive_enabled: number | null;
  proactive_policy: string | null;
  proactive_next_at: number | null;
  proactive_unanswered: Generated<number>;
  proactive_last_at: number | null;
  proactive_day: string | null;
  proactive_day_count: Generated<number>;
  proactive_lease_until: number | null;
  proactive_lease_owner: string | null;
}

export interface MessageRow {
  seq: Generated<number>;
  id: string;
  conversation_id: string;
  role: string;
  kind: string;
  content: string;
  image_urls: string | null;
  token_count: number;
  author_id: string | null;
  author_name: string | null;
  created_at: string;
  /** `platform:eventId` of the event that produced this message, so a re-run stores it once. */
  source_event: string | null;
}

export interface BindingRow {
  /** `platform:*` (platform default), or an encoded chat key (group binding). */
  key: string;
  character_id: string;
  updated_at: string;
}

export interface ChatSettingsRow {
  /** Encoded chat key (no user part). */
  chat_key: string;
  scope: string;
  engage: string;
  user_limit_per_min: number | null;
  updated_at: string;
}

export interface ProcessedEventRow {
  platform: string;
  event_id: string;
  state: string;
  claimed_at: number;
  /** The normalized InboundMessage (JSON) while the event is being processed; null once done. */
  payload: string | null;
  /** The instance that claimed it (null for claims made before instances were tracked). */
  owner: string | null;
  /** The chat line a platform message waits in (null for API turns and older claims). */
  chat_key: string | null;
  /** When it was first claimed (`claimed_at` moves on a takeover); null for older claims. */
  arrived_at: number | null;
}

/** A running charbridge process, heartbeating while it lives. */
export interface InstanceRow {
  id: string;
  started_at: number;
  seen_at: number;
  /** When it stopped cleanly (its last `seen_at` too); null while it runs or after a crash. */
  stopped_at: number | null;
}

/** One call of a method a platform limits per app (see CallTallyRepo). */
export interface CallTallyRow {
  id: Generated<number>;
  /** The tally's name: the bot and the method. */
  name: string;
  /** When the call was made, epoch ms. */
  at: number;
}

/** What an adapter noted about a send in progress (see SendMarkRepo). */
export interface SendMarkRow {
  /** The adapter's name for it, e.g. `slack:stream:<reply key>`. */
  key: string;
  value: string;
  /** When it was written, epoch ms. */
  at: number;
}

/** Migration 052: usage summed per UTC day and (key, character, model, platform), '' where unrecorded. */
export interface UsageDailyRow {
  day: number;
  api_key_id: string;
  character_id: string;
  model: string;
  platform: string;
  turns: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  credits: number;
}

/** Migration 052: a day whose `usage_daily` sums are complete. */
export interface UsageDayRow {
  day: number;
  rolled_ms: number;
}

export interface UsageRow {
  id: Generated<number>;
  conversation_id: string;
  character_id: string;
  api_key_id: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  credits: number;
  created_at: string;
  /** Migration 006: the model asked, where the turn came from, and the error code of a failed turn. */
  model: string | null;
  platform: string | null;
  error_code: string | null;
  /** Epoch ms of created_at, for range and per-day queries. */
  created_ms: number;
  /** Migration 037: 'turn' (a reply) or 'memory' (a background extraction; never a turn, never charged). */
  kind: Generated<string>;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  key_hash: string;
  key_prefix: string;
  credits: number | null;
  credits_used: number;
  webhook_url: string | null;
  webhook_secret: string | null;
  webhook_disabled: number;
  webhook_failures: number;
  disabled: number;
  default_character_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface ProactiveOutboxRow {
  id: Generated<number>;
  conversation_id: string;
  message_id: string | null;
  /** generating → pending → claimed → sending → delivered | failed | uncertain; or nothing (the model had nothing to say), abandoned, skipped, error. */
  state: string;
  attempts: number;
  next_attempt_at: number;
  error: string | null;
  forced: number;
  created_at: number;
  updated_at: number;
  /** The instance generating it (`generating`), or that will send or is sending it (`claimed`, `sending`). */
  owner: string | null;
  /** Credits reserved for the generation from the paying key, until it is settled (charged or given back). */
  reserved_credits: Generated<number>;
}

/**
 * The per-key updates feed (GET /api/v1/updates): async replies, failed async turns and, later,
 * proactive messages. `id` is the feed cursor: SQLite hands out autoincrement ids inside its
 * single write lock, so id order is commit order and a cursor never skips a row.
 */
export interface UpdateRow {
  id: Generated<number>;
  /** API key id that sees this row ('admin' for the admin key's own sessions). */
  api_key_id: string;
  conversation_id: string;
  character_id: string;
  /** 'reply' | 'proactive' | 'error' */
  kind: string;
  message_id: string | null;
  content: string | null;
  /** JSON `{code, message}` for kind 'error'. */
  error_json: string | null;
  created_at: string;
}

/** Idempotency-Key records: the first successful response, replayed for 24 h. */
export interface IdempotencyRow {
  api_key_id: string;
  key: string;
  /** SHA-256 of the canonical request body; another body with the same key is a 409. */
  request_hash: string;
  /** 'pending' while the first request runs, then 'done'. */
  state: string;
  response_status: number | null;
  response_json: string | null;
  /** Epoch ms, for the 24 h window and pruning. */
  created_at: number;
  /** The instance running a pending request (its heartbeat says whether it still is); null before instances were tracked. */
  owner: string | null;
  /** The API turn the request started (`api:<turn_id>` names its messages), once known. */
  turn_id: string | null;
}

export interface WebhookOutboxRow {
  id: Generated<number>;
  event_id: string;
  api_key_id: string;
  event: string;
  payload: string;
  /** pending → sending (claimed) → delivered | failed | dropped; a failed attempt goes back to pending. */
  state: string;
  /** Attempts started (counted when claimed, so one cut short by a crash counts too). */
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  /** The process sending it while `state` is `sending` (migration 030). */
  claim_owner: string | null;
  /** When that claim lapses; after it, another process may send the delivery again. */
  claim_until: number | null;
  created_at: number;
  updated_at: number;
}

/** A web console sign-in (migration 007); the token itself is never stored. */
export interface ConsoleSessionRow {
  /** SHA-256 hex of the session token in the cookie. */
  token_hash: string;
  /** The API key id the session acts as, or 'admin'. */
  key_id: string;
  /** A short fingerprint of the admin key signed in with, so a changed ADMIN_API_KEY ends its sessions ('' for tenant keys). */
  key_check: string;
  created_at: number;
  expires_at: number;
}

/** A standalone lorebook (migration 032); `book_json` is the normalized LoreBook. */
export interface LorebookRow {
  id: string;
  owner_id: string;
  name: string;
  description: string | null;
  book_json: string;
  created_at: string;
  updated_at: string;
}

/** A lorebook attached to a character or a conversation. */
export interface LorebookLinkRow {
  lorebook_id: string;
  target_kind: string;
  target_id: string;
  created_at: string;
}

/** A user's persona (migration 033), by `platform:userId` or `api:keyId:userId`. */
export interface PersonaRow {
  user_key: string;
  name: string | null;
  description: string | null;
  updated_at: string;
}

/** The last turn's lorebook activation report of a conversation. */
export interface LoreActivityRow {
  conversation_id: string;
  report_json: string;
  updated_at: string;
}

/** A fact long-term memory keeps about an owner, for one character (migration 035). */
export interface MemoryFactRow {
  id: Generated<number>;
  /** The conversation's scope without its thread, or `session:<id>` for an API session. */
  owner_key: string;
  character_id: string;
  text: string;
  /** JSON array of the message seqs it was extracted from (blocked from recall when forgotten). */
  source_seqs: string | null;
  created_ms: number;
  updated_ms: number;
}

/** Per owner and character: messages at or below `recall_after_seq` are never recalled (`/memory clear`). */
export interface MemoryOwnerRow {
  owner_key: string;
  character_id: string;
  recall_after_seq: number;
  updated_ms: number;
}

/** Per conversation and character: how far extraction has read, the rolling summary, and its lease. */
export interface MemoryProgressRow {
  conversation_id: string;
  character_id: string;
  processed_seq: number;
  summary: string | null;
  lease_owner: string | null;
  lease_until: number | null;
  updated_ms: number;
}

/** A message a forgotten fact came from: recall never returns it again. */
export interface MemoryForgottenRow {
  seq: number;
  conversation_id: string;
}

/** A message's embedding (migration 038): little-endian float32, base64. */
export interface MemoryEmbeddingRow {
  seq: number;
  conversation_id: string;
  model: string;
  vector: string;
}
