import { z } from 'zod';
import { int } from '../core/config-values.js';

/** Where the data lives: a SQLite file path (`sqlite:` prefix accepted), `:memory:`, or a PostgreSQL URL. */
export const storeConfigSchema = z.object({
  url: z
    .string()
    .min(1)
    .default('data/charbridge.db')
    .transform((v) => v.replace(/^sqlite:(\/\/)?/, '')),
  /**
   * Idempotency-Key records older than this are deleted by the hourly housekeeping (a replay is
   * honoured for at most 24 h, or this long if shorter).
   */
  idempotencyRetentionHours: int(1, 24 * 365).default(24),
  /** Updates-feed entries older than this are deleted by the hourly housekeeping. */
  updatesRetentionDays: int(1, 3650).default(7),
});

export type StoreConfig = z.infer<typeof storeConfigSchema>;
