import { z } from 'zod';
import { int, list, optionalString, optionalUrl } from '../core/config-values.js';

/** The model server: any OpenAI-compatible endpoint, or the built-in offline model when neither key nor URL is set. */
export const modelConfigSchema = z
  .object({
  apiKey: optionalString,
  baseURL: optionalUrl,
  model: z.string().min(1).default('gpt-4o-mini'),
  timeoutMs: int(1000, 600_000).default(60_000),
  maxRetries: int(0, 10).default(2),
  /** Model calls in flight at once. */
  concurrency: int(1, 1000).default(8),
  maxTokens: int(16, 100_000).default(1024),
  /** Token budget for system prompt + history + new message. */
  contextTokens: int(256, 2_000_000).default(8000),
  /**
   * Models a tenant key may name on its characters; `*` allows any. Empty (the default) means
   * the configured model plus the presets' own. The admin may name any.
   */
  allowlist: list.default([]),
  /** Models tried in order when the first fails (after the SDK's retries), before the user sees a failure. */
  fallbacks: list.default([]),
  })
  // Neither a key nor a base URL: the built-in offline model answers.
  .transform((c) => ({ ...c, offline: !c.apiKey && !c.baseURL }));

export type ModelConfig = z.infer<typeof modelConfigSchema>;
