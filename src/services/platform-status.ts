import type { Config } from '../config.js';
import type { PlatformStatus, PlatformStatusSource } from '../core/platform-status.js';
import type { Platform } from '../core/types.js';
import type { Store } from '../store/index.js';

type ChatPlatform = PlatformStatus['platform'];

/** How a configured platform receives events, read from its configuration. */
export function platformMode(config: Config, platform: ChatPlatform): string {
  if (platform === 'telegram') return config.telegram?.webhookUrl ? 'webhook' : 'polling';
  if (platform === 'slack') return config.slack?.appToken ? 'socket' : 'http';
  return 'gateway';
}

/** The platforms whose token is set: the adapters `npm start` runs. */
export function configuredPlatforms(config: Config): ChatPlatform[] {
  return (['telegram', 'discord', 'slack'] as const).filter((p) => config[p] !== undefined);
}

/**
 * Platform states from what the process knows without asking the adapters: which run, how they
 * receive events (configuration) and when each last delivered one (the store's event claims).
 * Connection, errors and rate-limit waits are the adapters' to report; here they are unknown.
 */
export function storedPlatformStatus(config: Config, store: Store, platforms: readonly Platform[] = configuredPlatforms(config)): PlatformStatusSource {
  return {
    async adapters() {
      const lastEvents = await store.activity.lastEventAt();
      return platforms
        .filter((p): p is ChatPlatform => p !== 'api')
        .map((platform) => {
          const at = lastEvents.get(platform);
          return {
            platform,
            mode: platformMode(config, platform),
            connected: null,
            lastEventAt: at === undefined ? null : new Date(at).toISOString(),
            lastError: null,
            rateLimitWaits: 0,
          };
        });
    },
  };
}

/** What the operator's platforms page shows: the adapters and the proactive scheduler's activity. */
export class PlatformOverview {
  constructor(
    private readonly store: Store,
    private readonly source: PlatformStatusSource,
  ) {}

  adapters(): Promise<PlatformStatus[]> {
    return this.source.adapters();
  }

  /** How many conversations are scheduled, the next due time, and the most recent sends. */
  async proactive(recent: number) {
    const [schedule, sends] = await Promise.all([this.store.activity.proactiveSchedule(), this.store.activity.recentProactive(recent)]);
    return { ...schedule, recentSends: sends };
  }
}
