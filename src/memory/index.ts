import type { Clock } from '../core/clock.js';
import type { Engine } from '../engine/index.js';
import type { Embedder, ModelClient } from '../llm/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { memoryCommand } from './command.js';
import type { MemoryConfig } from './config.js';
import { MemoryControl } from './control.js';
import { Extractor } from './extractor.js';
import { memoryProvider } from './provider.js';

export { memoryConfigSchema, type MemoryConfig } from './config.js';
export { MemoryControl } from './control.js';
export { memoryOwnerOf, ownerKeyOf, isSharedChat } from './owner.js';
export { parseExtraction, extractionPrompt, type ExtractionAnswer } from './extraction.js';

export interface MemoryParts {
  engine: Pick<Engine, 'onMessage' | 'modelSlot' | 'addContextProvider' | 'addCommand'>;
  store: Store;
  /** The model the engine talks to (extraction asks it in JSON mode). */
  model: ModelClient;
  clock: Clock;
  log: Logger;
  config: MemoryConfig;
  /** CONTEXT_TOKENS: what the window holds, so memory knows what has left it. */
  contextTokens: number;
  /** This process, as the holder of extraction leases. */
  instanceId: string;
  /** With EMBEDDINGS_MODEL set: recall by meaning as well as by words. */
  embedder?: Embedder | undefined;
}

/** What `/memory` and the operator see of memory. */
export interface MemoryStatus {
  enabled: boolean;
  /** Whether facts are extracted by the model (not with the offline model). */
  extracts: boolean;
  /** Extractions running now. */
  active: number;
}

/**
 * Long-term memory attached to an engine: a context provider (facts, summary, recalled lines),
 * the `/memory` command, and the background extractor told of every stored reply. Attach it
 * before adapters are built, so `/memory` is in every platform's menu; stop it after the engine
 * drained.
 */
export class LongTermMemory {
  readonly control: MemoryControl;
  private readonly extractor: Extractor;

  private constructor(private readonly parts: MemoryParts) {
    this.control = new MemoryControl(parts.store, parts.config.maxFacts);
    this.extractor = new Extractor({
      store: parts.store,
      model: parts.model,
      clock: parts.clock,
      log: parts.log,
      config: parts.config,
      contextTokens: parts.contextTokens,
      instanceId: parts.instanceId,
      modelSlot: (owner) => parts.engine.modelSlot(owner),
      embedder: parts.embedder,
    });
  }

  static attach(parts: MemoryParts): LongTermMemory {
    const m = new LongTermMemory(parts);
    parts.engine.addContextProvider(memoryProvider({ store: parts.store, config: parts.config, contextTokens: parts.contextTokens, log: parts.log, embedder: parts.embedder }));
    parts.engine.addCommand(memoryCommand(m.control, () => m.status));
    parts.engine.onMessage((e) => {
      if (e.message.role === 'assistant') m.extractor.notify(e.conversation, e.character);
    });
    return m;
  }

  get status(): MemoryStatus {
    const { config, model } = this.parts;
    return { enabled: config.enabled, extracts: config.enabled && !model.offline, active: this.extractor.active };
  }

  /** Resolves once no extraction is running (tests and benches wait for background work). */
  idle(): Promise<void> {
    return this.extractor.idle();
  }

  /** Start no more extractions; wait up to `timeoutMs` for running ones. */
  stop(timeoutMs = 5000): Promise<boolean> {
    return this.extractor.stop(timeoutMs);
  }
}
