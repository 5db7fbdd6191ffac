import { z } from 'zod';

/**
 * Where instances coordinate. Without `redisUrl` everything (limits, per-chat order, wake-ups,
 * outbound windows, once-only jobs) lives in this process: one instance, which is the default.
 */
export const coordConfigSchema = z.object({
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379')
    .optional(),
  /** Prefix of every key and channel, so several deployments can share one Redis. */
  redisPrefix: z.string().min(1).max(64).default('charbridge:'),
  /** How long a chat's turn holds its place without renewing it (a dead instance's place frees after this). */
  chatLockTtlMs: z.coerce.number().int().min(1000).max(600_000).default(15_000),
});

export type CoordConfig = z.infer<typeof coordConfigSchema>;

/**
 * The configuration plus what the runtime derives for it: `takeoverMs`, how long after an
 * instance dies its unfinished messages may wait to be taken over, and `goneHoldMs`, how long a
 * chat's later turns wait for such a message (see RedisChatOrder).
 */
export type CoordinationSettings = CoordConfig & { takeoverMs?: number | undefined; goneHoldMs?: number | undefined };
