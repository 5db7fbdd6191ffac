import type { ContextBlock, ContextProvider, ProviderInput } from '../engine/index.js';
import type { Embedder } from '../llm/index.js';
import type { Logger } from '../log.js';
import type { MemoryProgress, RecalledLine, Store } from '../store/index.js';
import { similarLines } from './similar.js';
import type { MemoryConfig } from './config.js';
import { isSharedChat, memoryOwnerOf } from './owner.js';
import { recallLines, windowStart } from './recall.js';
import { renderRecalled, renderRemembered } from './render.js';

/**
 * Long-term memory in the context. Facts and the summary go right after the character
 * definition (they change rarely, so the prompt's prefix stays cacheable); recalled lines go in
 * a system message right before the message being answered. All of it within MEMORY_TOKENS:
 * about half for facts, a quarter for the summary, the rest for recall, each passing what it
 * leaves unused to the next. Recall is by words (full-text search) and, with EMBEDDINGS_MODEL,
 * by meaning too.
 */
export function memoryProvider(deps: {
  store: Store;
  config: MemoryConfig;
  contextTokens: number;
  log: Logger;
  embedder?: Embedder | undefined;
  /** Told the progress read for each turn (the extractor's look after the reply starts from it). */
  progressRead?: (conversationId: string, characterId: string, progress: MemoryProgress) => void;
}): ContextProvider {
  const { store, config } = deps;
  return {
    name: 'memory',
    async blocks(input: ProviderInput): Promise<ContextBlock[]> {
      if (!config.enabled || config.tokens <= 0) return [];
      const { conversation: conv, character } = input;
      const owner = memoryOwnerOf(conv, character);
      const [facts, progress] = await Promise.all([store.memory.facts(owner), store.memory.progress(conv.id, character.id)]);
      deps.progressRead?.(conv.id, character.id, progress);
      const blocks: ContextBlock[] = [];
      const who = isSharedChat(conv) ? 'the people in this chat' : input.userName;
      const factsBudget = Math.floor(config.tokens / 2);
      const summaryBudget = Math.floor(config.tokens / 4);
      const remembered = renderRemembered(facts, progress.summary, who, { facts: factsBudget, summary: summaryBudget });
      let left = config.tokens;
      if (remembered) {
        blocks.push({ position: 'after-character', text: remembered.text, order: 50 });
        left -= remembered.tokens;
      }
      const current = input.current;
      if (current && current.content.trim() && left > 20) {
        const floorSeq = await store.memory.recallFloor(owner);
        const beforeSeq = await windowStart(store, conv, current, deps.contextTokens - config.tokens);
        const q = { conv, characterId: character.id, current, floorSeq, beforeSeq };
        const [byWords, byMeaning] = await Promise.all([
          recallLines(store, q),
          deps.embedder ? similarLines({ store, embedder: deps.embedder, log: deps.log }, q) : Promise.resolve([] as RecalledLine[]),
        ]);
        const seen = new Set(byWords.map((l) => l.seq));
        const lines = [...byWords, ...byMeaning.filter((l) => !seen.has(l.seq))];
        const text = renderRecalled(lines, character.name, left);
        if (text) blocks.push({ position: { depth: 0, role: 'system' }, text, order: 50 });
      }
      return blocks;
    },
  };
}
