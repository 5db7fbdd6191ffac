import { z } from 'zod';

/** Where the data lives: a SQLite file path (`sqlite:` prefix accepted), `:memory:`, or a PostgreSQL URL. */
export const storeConfigSchema = z.object({
  url: z
    .string()
    .min(1)
    .default('data/charbridge.db')
    .transform((v) => v.replace(/^sqlite:(\/\/)?/, '')),
});

export type StoreConfig = z.infer<typeof storeConfigSchema>;
