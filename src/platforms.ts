import type { Config } from './config.js';
import type { AdapterDeps, PlatformAdapter, RecentChat } from './core/adapter.js';
import { decodeKey } from './core/conversation-key.js';
import type { Platform } from './core/types.js';
import type { Engine } from './engine/index.js';
import type { Logger } from './log.js';
import type { Store } from './store/index.js';
import { platformDirectory } from './characters/platform.js';
import type { Coordination } from './coord/index.js';
import type { Network } from './core/network.js';
import type { RateWindow, SharedTallyOptions } from './core/outbound-window.js';
import { storeCallTallies, storeChatTallies } from './coord/store-tally.js';

/** What every platform adapter factory gets (the shape `startRuntime`'s `adapters` override receives). */
export interface PlatformContext {
  config: Config;
  engine: Engine;
  log: Logger;
  store: Store;
  /** Shared by the instances of this deployment (or this process alone). */
  coordination?: Coordination;
  /** How the platforms are reached: directly, or through the configured proxy. */
  network?: Network;
  /**
   * Whether another instance ran within the last `withinMs` (the database's heartbeats; a clean
   * stop counts): calls of instances that died or stopped within a window may still count at the
   * platform, though a Redis restarted without its data has none of them.
   */
  othersRecent?: SharedTallyOptions['othersRecent'];
}

/**
 * One adapter per platform whose token is configured. The engine is handed over as a
 * MessageHandler, with its commands as a menu for the platforms to render; adapters never see
 * the store or the rest of the runtime. Each adapter (and so its platform SDK: discord.js alone
 * is ~45 MB resident) is imported only when its platform is configured.
 *
 * @example startRuntime(loadConfig(), { adapters: createPlatformAdapters })
 */
export async function createPlatformAdapters({ config, engine, log, store, coordination, network, othersRecent }: PlatformContext): Promise<PlatformAdapter[]> {
  const adapters: PlatformAdapter[] = [];
  const tallies = coordination?.sharedTally;
  const shared =
    coordination?.kind === 'redis'
      ? {
          leadership: (name: string) => coordination.leadership(name),
          ...(coordination.sharedWindow ? { sharedWindow: coordination.sharedWindow } : {}),
          ...(tallies ? { sharedTally: (name: string, w: RateWindow, o?: SharedTallyOptions) => tallies(name, w, { ...(othersRecent ? { othersRecent } : {}), ...o }) } : {}),
          ...(coordination.identifyGate ? { identifyGate: coordination.identifyGate } : {}),
        }
      : singleInstance(store, log);
  const sendMarks = coordination?.mirrorSendMarks?.(store.sendMarks) ?? store.sendMarks;
  const base = {
    handler: engine, log, commands: engine.menu, sendMarks, recentChats: recentChatsOf(store, log), storeDowntime: () => store.downtime(),
    ...(network ? { network } : {}),
    ...shared,
  };
  const tuning = { stopTimeoutMs: config.runtime.shutdownTimeoutMs };
  const directory = platformDirectory(store, config.http.publicUrl);
  if (config.telegram) {
    const { createTelegramAdapter } = await import('../adapters/telegram/index.js');
    adapters.push(createTelegramAdapter(config.telegram, { ...base, tuning }));
  }
  if (config.discord) {
    const { createDiscordAdapter } = await import('../adapters/discord/index.js');
    adapters.push(
      createDiscordAdapter(config.discord, {
        ...base,
        listCharacters: () => directory.names(),
        characterAvatar: (name) => directory.avatarUrl(name),
        tuning,
      }),
    );
  }
  if (config.slack) {
    const { createSlackAdapter } = await import('../adapters/slack/index.js');
    adapters.push(createSlackAdapter(config.slack, { ...base, tuning }));
  }
  return adapters;
}

/**
 * One instance (no Redis): Slack's tier counts and each chat's send windows that outlast a
 * restart kept in the database, so a restart forgets neither.
 */
function singleInstance(store: Store, log: Logger): Pick<AdapterDeps, 'sharedTally' | 'chatTally'> {
  return { sharedTally: storeCallTallies(store.callTally, log), chatTally: storeChatTallies(store.callTally, log) };
}

/** At most this many chats are caught up on at a start: the most recently active ones. */
const RECENT_CHATS = 200;

/** `AdapterDeps.recentChats` from the conversations: their keys, and the newest user message's platform id. */
export function recentChatsOf(store: Store, log: Logger): (platform: Platform, withinMs: number) => Promise<RecentChat[]> {
  return async (platform, withinMs) => {
    const rows = await store.conversations.recentChats(platform, withinMs, RECENT_CHATS);
    const prefix = `${platform}:`;
    return rows.flatMap((r) => {
      try {
        return r.lastEvent.startsWith(prefix) ? [{ key: decodeKey(r.scopeKey), lastEventId: r.lastEvent.slice(prefix.length) }] : [];
      } catch (err) {
        log.debug({ err, scopeKey: r.scopeKey }, 'a stored conversation key could not be read; not caught up on');
        return [];
      }
    });
  };
}
