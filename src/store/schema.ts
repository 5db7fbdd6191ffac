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
  usage: UsageRow;
  api_keys: ApiKeyRow;
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
  model: string | null;
  created_at: string;
  updated_at: string;
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
