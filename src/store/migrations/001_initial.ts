import type { Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/** The first schema: every aggregate the foundation needs, with the indexes its hot paths use. */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  await db.schema
    .createTable('characters')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('is_public', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('personality', 'text', (c) => c.notNull())
    .addColumn('speaking_style', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('gender', 'text')
    .addColumn('age', 'integer')
    .addColumn('occupation', 'text')
    .addColumn('appearance_description', 'text')
    .addColumn('avatar', 'text')
    .addColumn('profile_photo_url', 'text')
    .addColumn('can_initiate', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('scenario', 'text')
    .addColumn('greeting', 'text')
    .addColumn('example_dialogue', 'text')
    .addColumn('system_prompt', 'text')
    .addColumn('post_history_instructions', 'text')
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('model', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('characters_owner_slug').unique().on('characters').columns(['owner_id', 'slug']).execute();
  await db.schema.createIndex('characters_public').on('characters').columns(['is_public', 'name']).execute();

  await db.schema
    .createTable('conversations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('scope_key', 'text', (c) => c.unique())
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('chat_type', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text')
    .addColumn('character_id', 'text')
    .addColumn('context_start_seq', s.int64, (c) => c.notNull().defaultTo(0))
    .addColumn('metadata', 'text')
    .addColumn('message_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('last_user_at', 'text')
    .addColumn('last_assistant_at', 'text')
    .execute();
  await db.schema.createIndex('conversations_owner_updated').on('conversations').columns(['owner_id', 'updated_at']).execute();
  await db.schema.createIndex('conversations_platform_updated').on('conversations').columns(['platform', 'updated_at']).execute();

  await db.schema
    .createTable('messages')
    .$call(s.idColumn('seq'))
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('image_urls', 'text')
    .addColumn('token_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('author_id', 'text')
    .addColumn('author_name', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // Newest-N reads walk this index backwards from the end: O(N) whatever the history length.
  await db.schema.createIndex('messages_conversation_seq').on('messages').columns(['conversation_id', 'seq']).execute();

  await db.schema
    .createTable('bindings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('character_id', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('chat_settings')
    .addColumn('chat_key', 'text', (c) => c.primaryKey())
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('shared'))
    .addColumn('engage', 'text', (c) => c.notNull().defaultTo('mention'))
    .addColumn('user_limit_per_min', 'integer')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('processed_events')
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('claimed_at', s.epochMs, (c) => c.notNull())
    .addPrimaryKeyConstraint('processed_events_pk', ['platform', 'event_id'])
    .execute();
  await db.schema.createIndex('processed_events_claimed').on('processed_events').column('claimed_at').execute();

  await db.schema
    .createTable('usage')
    .$call(s.idColumn('id'))
    .addColumn('conversation_id', 'text', (c) => c.notNull())
    .addColumn('character_id', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text')
    .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
    .addColumn('completion_tokens', 'integer', (c) => c.notNull())
    .addColumn('credits', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('usage_conversation').on('usage').column('conversation_id').execute();
  await db.schema.createIndex('usage_key').on('usage').columns(['api_key_id', 'created_at']).execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('key_prefix', 'text', (c) => c.notNull())
    .addColumn('credits', s.int64)
    .addColumn('credits_used', s.int64, (c) => c.notNull().defaultTo(0))
    .addColumn('webhook_url', 'text')
    .addColumn('webhook_secret', 'text')
    .addColumn('webhook_disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('webhook_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('default_character_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['api_keys', 'usage', 'processed_events', 'chat_settings', 'bindings', 'messages', 'conversations', 'characters']) {
    await db.schema.dropTable(t).execute();
  }
}
