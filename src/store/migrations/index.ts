import type { Migration } from 'kysely';
import * as m001 from './001_initial.js';

/**
 * Every migration, in order. Add a file `NNN_name.ts` and list it here; the Migrator records
 * which ran in `kysely_migration`, so start-up applies only the new ones.
 */
export const migrations: Record<string, Migration> = {
  '001_initial': m001,
};
