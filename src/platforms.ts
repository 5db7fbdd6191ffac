import type { Config } from './config.js';
import type { PlatformAdapter } from './core/adapter.js';
import type { Engine } from './engine/index.js';
import type { Logger } from './log.js';
import type { Store } from './store/index.js';
import { platformDirectory } from './characters/platform.js';
import type { Coordination } from './coord/index.js';
import { createTelegramAdapter } from '../adapters/telegram/index.js';
import { createDiscordAdapter } from '../adapters/discord/index.js';
import { createSlackAdapter } from '../adapters/slack/index.js';

/** What every platform adapter factory gets (the shape `startRuntime`'s `adapters` override receives). */
export interface PlatformContext {
  config: Config;
  engine: Engine;
  log: Logger;
  store: Store;
  /** Shared by the instances of this deployment (or this process alone). */
  coordination?: Coordination;
}

/**
 * One adapter per platform whose token is configured. The engine is handed over as a
 * MessageHandler, with its commands as a menu for the platforms to render; adapters never see
 * the store or the rest of the runtime.
 *
 * @example startRuntime(loadConfig(), { adapters: createPlatformAdapters })
 */
export function createPlatformAdapters({ config, engine, log, store, coordination }: PlatformContext): PlatformAdapter[] {
  const adapters: PlatformAdapter[] = [];
  const shared =
    coordination?.kind === 'redis'
      ? {
          leadership: (name: string) => coordination.leadership(name),
          ...(coordination.sharedWindow ? { sharedWindow: coordination.sharedWindow } : {}),
          ...(coordination.identifyGate ? { identifyGate: coordination.identifyGate } : {}),
        }
      : {};
  const base = { handler: engine, log, commands: engine.menu, ...shared };
  const tuning = { stopTimeoutMs: config.runtime.shutdownTimeoutMs };
  const directory = platformDirectory(store, config.http.publicUrl);
  if (config.telegram) adapters.push(createTelegramAdapter(config.telegram, { ...base, tuning }));
  if (config.discord) {
    adapters.push(
      createDiscordAdapter(config.discord, {
        ...base,
        listCharacters: () => directory.names(),
        characterAvatar: (name) => directory.avatarUrl(name),
        tuning,
      }),
    );
  }
  if (config.slack) adapters.push(createSlackAdapter(config.slack, { ...base, tuning }));
  return adapters;
}
