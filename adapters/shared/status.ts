/**
 * An adapter's status (src/core AdapterStatus), kept from what its transport reports: the
 * connection coming and going, failures, events arriving, and 429s the SDK waited out by itself
 * (discord.js). Sends and the budget's own 429s come from the outbound budget's counters.
 */
import type { AdapterMode, AdapterStatus } from '../../src/core/adapter.js';
import type { Platform } from '../../src/core/types.js';

/** What a transport tells about its connection. */
export interface TransportEvents {
  connected(): void;
  /** The connection closed; with `err` when it was not our doing. */
  disconnected(err?: unknown): void;
  /** Something failed that the transport survived (a handler, a frame, a call). */
  failed(err: unknown): void;
  /** The SDK met a 429 and waited it out before retrying (no budget saw it). */
  rateLimited(): void;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 500);

export class StatusTracker implements TransportEvents {
  private isConnected = false;
  private lastEventAt: number | null = null;
  private lastError: { message: string; at: number } | null = null;
  private sdkRateLimited = 0;

  constructor(
    private readonly platform: Platform,
    private readonly mode: AdapterMode,
    private readonly now: () => number = Date.now,
  ) {}

  connected(): void {
    this.isConnected = true;
  }

  disconnected(err?: unknown): void {
    this.isConnected = false;
    if (err !== undefined) this.failed(err);
  }

  failed(err: unknown): void {
    this.lastError = { message: message(err), at: this.now() };
  }

  rateLimited(): void {
    this.sdkRateLimited++;
  }

  /** The platform delivered an event. */
  event(): void {
    this.lastEventAt = this.now();
  }

  snapshot(budget: { sent: number; rateLimited: number; queued?: number; started?: number; waitedMs?: number }, inFlight: number): AdapterStatus {
    const iso = (t: number) => new Date(t).toISOString();
    return {
      platform: this.platform,
      connected: this.isConnected,
      mode: this.mode,
      lastEventAt: this.lastEventAt === null ? null : iso(this.lastEventAt),
      lastError: this.lastError && { message: this.lastError.message, at: iso(this.lastError.at) },
      rateLimited: budget.rateLimited + this.sdkRateLimited,
      sent: budget.sent,
      inFlight,
      outbound: { queued: budget.queued ?? 0, started: budget.started ?? 0, waitedMs: budget.waitedMs ?? 0 },
    };
  }
}
