import { z } from 'zod';
import { int } from '../core/config-values.js';

/** How often the scheduler looks for conversations to reach out to, and the default policy. */
export const proactiveConfigSchema = z.object({
  cron: z.string().min(1).default('*/15 * * * *'),
  minIdleMinutes: int(1, 525_600).default(240),
  minGapMinutes: int(1, 525_600).default(720),
  dailyCap: int(0, 1000).default(2),
  maxUnanswered: int(0, 1000).default(2),
});

export type ProactiveConfig = z.infer<typeof proactiveConfigSchema>;
