import { z } from 'zod';
import { int, list } from '../core/config-values.js';

/** Who administers the bots everywhere, and which character speaks when nothing else is chosen. */
export const engineSettingsSchema = z.object({
  adminUserIds: list.default([]).pipe(
    z.array(z.string().regex(/^(telegram|discord|slack):[^:\s]+$/, 'each entry must look like platform:userId, e.g. telegram:123')),
  ),
  defaultCharacter: z.string().min(1).default('aria'),
});

/**
 * Messages per minute per platform user and per group chat; requests per minute per API key; and
 * per tenant key, turns an hour the model may refuse (0: no such limit).
 */
export const limitsConfigSchema = z.object({
  userPerMin: int(1, 100_000).default(10),
  groupPerMin: int(1, 100_000).default(30),
  apiKeyPerMin: int(1, 1_000_000).default(60),
  refusedTurnsPerHour: int(0, 1_000_000).default(60),
});

export type EngineSettings = z.infer<typeof engineSettingsSchema>;
export type LimitsConfig = z.infer<typeof limitsConfigSchema>;
