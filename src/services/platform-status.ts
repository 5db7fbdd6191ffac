import type { Config } from '../config.js';
import type { PlatformStatus, PlatformStatusSource } from '../core/platform-status.js';
import type { PlatformAdapter } from '../core/adapter.js';
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
 * Platform states: each running adapter reports its own (connected, mode, errors, 429s waited
 * out); the store adds when each platform last delivered an event, across restarts. With no
 * adapters given (tests, an embedding program), the configured platforms as the store knows them.
 */
export function platformStatus(config: Config, store: Store, adapters?: readonly PlatformAdapter[]): PlatformStatusSource {
  return {
    async adapters() {
      const lastEvents = await store.activity.lastEventAt();
      const stored = (p: ChatPlatform) => {
        const at = lastEvents.get(p);
        return at === undefined ? null : new Date(at).toISOString();
      };
      if (adapters) {
        return adapters
          .filter((a): a is PlatformAdapter & { platform: ChatPlatform } => a.platform !== 'api')
          .map((a) => {
            const s = a.status();
            return {
              platform: a.platform,
              mode: s.mode,
              connected: s.connected,
              lastEventAt: s.lastEventAt ?? stored(a.platform),
              lastError: s.lastError,
              rateLimitWaits: s.rateLimited,
              sent: s.sent,
              inFlight: s.inFlight,
              outbound: s.outbound ? { queued: s.outbound.queued, waitedMs: s.outbound.waitedMs } : null,
            };
          });
      }
      return configuredPlatforms(config).map((platform) => ({
        platform,
        mode: platformMode(config, platform),
        connected: null,
        lastEventAt: stored(platform),
        lastError: null,
        rateLimitWaits: 0,
        sent: null,
        inFlight: null,
        outbound: null,
      }));
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
