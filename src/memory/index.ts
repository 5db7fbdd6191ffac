import type { Engine } from '../engine/index.js';
import { memoryCommand } from './command.js';
import type { MemoryConfig } from './config.js';
import { MemoryControl } from './control.js';
import { Extractor, type ExtractorDeps } from './extractor.js';
import { memoryProvider } from './provider.js';
import { SearchIndexer } from './search-index.js';

export { memoryConfigSchema, type MemoryConfig } from './config.js';
export { MemoryControl } from './control.js';
export { memoryOwnerOf, ownerKeyOf, isSharedChat } from './owner.js';
export { parseExtraction, extractionPrompt, type ExtractionAnswer } from './extraction.js';

/** What memory is attached with: the extractor's parts, with the engine in place of its model slot. */
export interface MemoryParts extends Omit<ExtractorDeps, 'modelSlot'> {
  engine: Pick<Engine, 'onMessage' | 'modelSlot' | 'addContextProvider' | 'addCommand'>;
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
 * the `/memory` command, the background extractor told of every stored reply, and the indexer
 * that keeps recall's full-text index current in batches. Attach it
 * before adapters are built, so `/memory` is in every platform's menu; stop it after the engine
 * drained.
 */
export class LongTermMemory {
  readonly control: MemoryControl;
  private readonly extractor: Extractor;
  private readonly searchIndex: SearchIndexer;

  private constructor(private readonly parts: MemoryParts) {
    this.control = new MemoryControl(parts.store, parts.config.maxFacts);
    const { engine, ...deps } = parts;
    this.extractor = new Extractor({ ...deps, modelSlot: (owner) => engine.modelSlot(owner) });
    this.searchIndex = new SearchIndexer(parts.store, parts.log);
  }

  static attach(parts: MemoryParts): LongTermMemory {
    const m = new LongTermMemory(parts);
    parts.engine.addContextProvider(
      memoryProvider({
        store: parts.store,
        config: parts.config,
        contextTokens: parts.contextTokens,
        log: parts.log,
        embedder: parts.embedder,
        progressRead: (conversationId, characterId, progress) => m.extractor.progressRead(conversationId, characterId, progress),
      }),
    );
    parts.engine.addCommand(memoryCommand(m.control, () => m.status));
    m.searchIndex.pass();
    parts.engine.onMessage((e) => {
      m.searchIndex.count();
      if (e.message.role === 'assistant') m.extractor.notify(e.conversation, e.character);
    });
    return m;
  }

  get status(): MemoryStatus {
    const { config, model } = this.parts;
    return { enabled: config.enabled, extracts: config.enabled && !model.offline, active: this.extractor.active };
  }

  /** Resolves once no extraction is running (tests and benches wait for background work). */
  async idle(): Promise<void> {
    await Promise.all([this.extractor.idle(), this.searchIndex.idle()]);
  }

  /** Start no more extractions or indexing passes; wait up to `timeoutMs` for running ones. */
  async stop(timeoutMs = 5000): Promise<boolean> {
    const [extractions, indexing] = await Promise.all([this.extractor.stop(timeoutMs), this.searchIndex.stop(timeoutMs)]);
    return extractions && indexing;
  }
}
