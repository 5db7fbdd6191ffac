import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Config } from './config.js';
import type { Clock } from './core/clock.js';
import type { Network } from './core/network.js';
import type { Logger } from './log.js';
import { openStore, type Store } from './store/index.js';
import { createModel, loadTokenizer, OpenAIModel, type ModelClient } from './llm/index.js';
import { createEngine, engineConfigFrom, type Engine, type RateLimits } from './engine/index.js';
import { localCoordination, type Coordination } from './coord/index.js';
import { loadPresets } from './presets.js';
import { LongTermMemory } from './memory/index.js';

/** Where shipped presets live, relative to this file in both `src/` (tsx) and `dist/src/` (built). */
export function defaultPresetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join('dist', 'src')}`) ? join(here, '..', '..', 'data', 'presets') : join(here, '..', 'data', 'presets');
}

export interface EngineSetup {
  store: Store;
  model: ModelClient;
  engine: Engine;
  /** The engine's rate limits, shared with the services so a key's budget is one budget. */
  limits: RateLimits;
  /** Long-term memory, attached to the engine (stop it after the engine drained). */
  memory: LongTermMemory;
}

export interface EngineSetupOptions {
  log: Logger;
  clock: Clock;
  /** Instead of the configured model (tests, the metrics wrapper). */
  model?: ModelClient;
  /** Wraps the model the engine talks to (the runtime's metrics observe every call this way). */
  wrapModel?: (model: ModelClient) => ModelClient;
  presetDir?: string;
  /** This process, as the owner of what the engine claims (a random one when not given). */
  instanceId?: string;
  /** Where limits and chat order are shared (this process when not given). */
  coordination?: Coordination;
  /** How the model is reached: directly, or through the configured proxy (the caller closes it). */
  network: Network;
}

/**
 * The engine as configured — store (migrated), presets, model, limits — in one place, so the
 * server and the terminal chat (`npm run cli -- chat`) answer with the same prompt, context and
 * commands. Anything that extends every engine (context providers) belongs here.
 */
export async function setUpEngine(config: Config, opts: EngineSetupOptions): Promise<EngineSetup> {
  const { log, clock } = opts;
  loadTokenizer(); // ~0.3 s, paid at start rather than by the first turn
  const store = await openStore(config.store.url, clock, { startupWait: { waitMs: config.runtime.startupWaitMs, log } });
  try {
    await loadPresets(store, opts.presetDir ?? defaultPresetDir(), log);
  } catch (err) {
    await store.close();
    throw err;
  }
  const base = opts.model ?? createModel(config.model, log, opts.network);
  const model = opts.wrapModel ? opts.wrapModel(base) : base;
  const coord = opts.coordination ?? localCoordination(log);
  const limits = coord.limits;
  const engineConfig = engineConfigFrom(config, opts.instanceId ?? randomUUID());
  const engine = createEngine({
    store,
    model,
    clock,
    log,
    limits,
    notices: coord.notices,
    ...(coord.chatOrder ? { chatOrder: coord.chatOrder } : {}),
    ...(coord.answered ? { answered: coord.answered } : {}),
    config: engineConfig,
    modelConcurrency: config.model.concurrency,
  });
  const memory = LongTermMemory.attach({
    engine,
    store,
    model,
    clock,
    log: log.child({ component: 'memory' }),
    config: config.memory,
    contextTokens: config.model.contextTokens,
    instanceId: engineConfig.instanceId,
    // Embeddings come from the same OpenAI-compatible server; the offline model has none.
    embedder: config.memory.embeddingsModel && base instanceof OpenAIModel ? base.embedder(config.memory.embeddingsModel) : undefined,
  });
  return { store, model, engine, limits, memory };
}
