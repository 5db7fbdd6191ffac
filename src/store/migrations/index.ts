import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../dialect.js';
import { schemaKit, type SchemaKit } from './portable.js';
import * as m001 from './001_initial.js';
import * as m002 from './002_http_api.js';
import * as m003 from './003_proactive.js';
import * as m004 from './004_webhooks.js';
import * as m005 from './005_inbox.js';
import * as m006 from './006_usage_details.js';
import * as m007 from './007_console_sessions.js';
import * as m008 from './008_instances.js';
import * as m009 from './009_outbox_owner.js';
import * as m030 from './030_webhook_claims.js';
import * as m031 from './031_character_cards.js';
import * as m032 from './032_lorebooks.js';
import * as m033 from './033_personas.js';
import * as m035 from './035_memory.js';
import * as m036 from './036_message_search.js';
import * as m037 from './037_usage_kind.js';
import * as m038 from './038_memory_embeddings.js';
import * as m039 from './039_character_memory.js';
import * as m040 from './040_idempotency_owner.js';
import * as m041 from './041_character_fallbacks.js';
import * as m042 from './042_redundant_indexes.js';
import * as m043 from './043_message_search_batches.js';
import * as m044 from './044_updates_message_index.js';
import * as m045 from './045_call_tally.js';
import * as m046 from './046_send_marks.js';
import * as m047 from './047_generation_credits.js';
import * as m048 from './048_event_chat.js';
import * as m049 from './049_send_marks_prefix.js';
import * as m050 from './050_message_search_per_conversation.js';
import * as m051 from './051_operator_read_indexes.js';
import * as m052 from './052_usage_daily.js';
import * as m053 from './053_api_keys_created.js';
import * as m054 from './054_webhook_outbox_retention.js';
import * as m055 from './055_instances_stopped.js';

/** A migration file: `up` gets the column kit for the database it runs on. */
interface PortableMigration {
  up(db: Kysely<any>, s: SchemaKit): Promise<void>;
  down?(db: Kysely<any>): Promise<void>;
}

/**
 * Every migration, in order. Add a file `NNN_name.ts` and list it here; the Migrator records
 * which ran in `kysely_migration`, so start-up applies only the new ones.
 *
 * The same files migrate SQLite and PostgreSQL, so write them portably:
 * - auto-assigned keys: `.$call(s.idColumn('id'))`, never `.autoIncrement()` (MySQL syntax on PG);
 * - epoch milliseconds, seq/id references and any count that can pass 2^31: `s.epochMs` /
 *   `s.int64`, never `'integer'` (32-bit on PostgreSQL);
 * - booleans stay 0/1 `integer`, JSON stays `text`, times stored as ISO strings stay `text`;
 * - no engine-specific SQL or types (`sql\`...\``, `jsonb`, `datetime`); if one is unavoidable,
 *   branch on `s.dialect` and keep both schemas meaning the same;
 * - a migration that already ran is never edited in a way that changes SQLite's schema: existing
 *   databases will not run it again.
 */
const files: Record<string, PortableMigration> = {
  '001_initial': m001,
  '002_http_api': m002,
  '003_proactive': m003,
  '004_webhooks': m004,
  '005_inbox': m005,
  '006_usage_details': m006,
  '007_console_sessions': m007,
  '008_instances': m008,
  '009_outbox_owner': m009,
  '030_webhook_claims': m030,
  '031_character_cards': m031,
  '032_lorebooks': m032,
  '033_personas': m033,
  '035_memory': m035,
  '036_message_search': m036,
  '037_usage_kind': m037,
  '038_memory_embeddings': m038,
  '039_character_memory': m039,
  '040_idempotency_owner': m040,
  '041_character_fallbacks': m041,
  '042_redundant_indexes': m042,
  '043_message_search_batches': m043,
  '044_updates_message_index': m044,
  '045_call_tally': m045,
  '046_send_marks': m046,
  '047_generation_credits': m047,
  '048_event_chat': m048,
  '049_send_marks_prefix': m049,
  '050_message_search_per_conversation': m050,
  '051_operator_read_indexes': m051,
  '052_usage_daily': m052,
  '053_api_keys_created': m053,
  '054_webhook_outbox_retention': m054,
  '055_instances_stopped': m055,
};

/** The migrations as Kysely's Migrator runs them, bound to one dialect's column kit. */
export function migrationsFor(dialect: DialectName): Record<string, Migration> {
  const kit = schemaKit(dialect);
  return Object.fromEntries(
    Object.entries(files).map(([name, m]) => [name, { up: (db: Kysely<any>) => m.up(db, kit), ...(m.down ? { down: m.down } : {}) }]),
  );
}
