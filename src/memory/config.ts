import { z } from 'zod';
import { bool, int, optionalString } from '../core/config-values.js';

/** Long-term memory: whether it runs, how often it extracts, how much it keeps and shows. */
export const memoryConfigSchema = z.object({
  enabled: bool.default(true),
  /** Extract after this many user turns (0: only when messages leave the context window). */
  extractEvery: int(0, 1000).default(6),
  /** Facts kept per owner and character; when full, the model is asked to consolidate. */
  maxFacts: int(1, 1000).default(50),
  /** Tokens of the context the "what you remember" section may take (facts, summary, recalled lines). */
  tokens: int(0, 100_000).default(800),
  /** Set to also recall by embeddings from the same OpenAI-compatible server (`/v1/embeddings`). */
  embeddingsModel: optionalString,
});

export type MemoryConfig = z.infer<typeof memoryConfigSchema>;
