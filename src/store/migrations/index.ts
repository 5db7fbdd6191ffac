import type { Migration } from 'kysely';
import * as m001 from './001_initial.js';
import * as m002 from './002_http_api.js';
import * as m003 from './003_proactive.js';
import * as m004 from './004_webhooks.js';
import * as m005 from './005_inbox.js';
import * as m006 from './006_usage_details.js';
import * as m007 from './007_console_sessions.js';

/**
 * Every migration, in order. Add a file `NNN_name.ts` and list it here; the Migrator records
 * which ran in `kysely_migration`, so start-up applies only the new ones.
 */
export const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_http_api': m002,
  '003_proactive': m003,
  '004_webhooks': m004,
  '005_inbox': m005,
  '006_usage_details': m006,
  '007_console_sessions': m007,
};
