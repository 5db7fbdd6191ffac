import type { ColumnDataType, Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Proactive messages: per-conversation policy and state on the conversation row (so the due
 * query is one indexed range scan on `proactive_next_at`), a lease for exactly-once claims across
 * processes, and an outbox that records every attempt and survives restarts until delivered.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  const cols: Array<[string, ColumnDataType, boolean]> = [
    ['proactive_enabled', 'integer', false],
    ['proactive_policy', 'text', false],
    ['proactive_next_at', s.epochMs, false],
    ['proactive_unanswered', 'integer', true],
    ['proactive_last_at', s.epochMs, false],
    ['proactive_day', 'text', false],
    ['proactive_day_count', 'integer', true],
    ['proactive_lease_until', s.epochMs, false],
    ['proactive_lease_owner', 'text', false],
  ];
  for (const [name, type, zero] of cols) {
    await db.schema
      .alterTable('conversations')
      .addColumn(name, type, (c) => (zero ? c.notNull().defaultTo(0) : c))
      .execute();
  }
  await db.schema.createIndex('conversations_proactive_due').on('conversations').column('proactive_next_at').execute();

  await db.schema
    .createTable('proactive_outbox')
    .$call(s.idColumn('id'))
    .addColumn('conversation_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', s.epochMs, (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('forced', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', s.epochMs, (c) => c.notNull())
    .addColumn('updated_at', s.epochMs, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('proactive_outbox_state').on('proactive_outbox').columns(['state', 'next_attempt_at']).execute();
  await db.schema.createIndex('proactive_outbox_conversation').on('proactive_outbox').columns(['conversation_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('proactive_outbox').execute();
}
