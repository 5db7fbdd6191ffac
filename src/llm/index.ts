import type { Logger } from '../log.js';
import type { Config } from '../config.js';
import type { ModelClient } from './model.js';
import type { Network } from '../core/network.js';
import { OpenAIModel } from './openai.js';
import { OfflineModel } from './offline.js';

export * from './model.js';
export { countTokens, countRepeatedTokens, loadTokenizer, TOKENS_PER_MESSAGE, TOKENS_PER_IMAGE } from './tokens.js';
export { OpenAIModel } from './openai.js';
export { modelStatusOf } from './observed.js';
export { OfflineModel, OFFLINE_LABEL } from './offline.js';

/** The configured model, or the offline one (with a warning) when nothing is configured. */
export function createModel(cfg: Config['model'], log: Logger, network?: Network): ModelClient {
  if (cfg.offline) {
    log.warn('No OPENAI_API_KEY or OPENAI_BASE_URL set: using the built-in OFFLINE model, which only echoes. Set one of them for real replies.');
    return new OfflineModel();
  }
  return new OpenAIModel({ ...cfg, ...(network ? { fetch: network.fetch } : {}) });
}
