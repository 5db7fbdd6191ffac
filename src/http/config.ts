import { z } from 'zod';
import { int, list } from '../core/config-values.js';

/** The HTTP server: where it listens, what it accepts, and the admin key. */
export const httpConfigSchema = z.object({
  port: int(0, 65535).default(3000),
  host: z.string().min(1).default('0.0.0.0'),
  /** Largest accepted request body. */
  maxBodyBytes: int(1024, 50_000_000).default(1_048_576),
  /** Hosts exempt from the private-address checks on image and webhook URLs. */
  ssrfAllowHosts: list.default([]),
  adminApiKey: z
    .string()
    .transform((v) => (v.trim() === '' ? undefined : v.trim()))
    .refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters')
    .optional(),
});

export type HttpConfig = z.infer<typeof httpConfigSchema>;
