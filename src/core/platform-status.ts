import type { Platform } from './types.js';

/**
 * What the operator's platform page shows about one adapter. Adapters know their own state
 * (connection, errors, rate limits), so this lives in core where adapters can report it.
 */
export interface PlatformStatus {
  platform: Exclude<Platform, 'api'>;
  /** How it receives events: polling, webhook, gateway, socket, http. */
  mode: string;
  /** Connected to the platform now; null when the adapter does not say. */
  connected: boolean | null;
  /** ISO time of the newest event received from the platform; null if none is known. */
  lastEventAt: string | null;
  /** The newest error talking to the platform; null if none is known. */
  lastError: { message: string; at: string } | null;
  /** 429s (or flood waits) the outbound budget waited out since start. */
  rateLimitWaits: number;
  /** Messages posted, edited or streamed since start; null when the adapter is not running here. */
  sent: number | null;
  /** Events being answered right now; null when the adapter is not running here. */
  inFlight: number | null;
  /** The outbound budget's line: sends waiting now, and how long started ones waited in total; null when not known. */
  outbound: { queued: number; waitedMs: number } | null;
}

/**
 * The source of the platform page's adapter states. The runtime provides one built from the
 * configured adapters and the store; a richer one may read each adapter's live state.
 */
export interface PlatformStatusSource {
  /** One entry per configured platform adapter. */
  adapters(): Promise<PlatformStatus[]>;
}
