import type { IdentifyGate, Leadership, SendMarks } from '../core/adapter.js';
import type { SharedTallyFactory, SharedWindowFactory } from '../core/outbound-window.js';
import type { AnsweredNotes, ChatOrder, Notices, RateLimits } from '../engine/limits.js';

export type { Leadership } from '../core/adapter.js';
export type { ChatOrder, ChatTicket } from '../engine/limits.js';

/** Tell other instances that something happened (a feed entry, a finished request). */
export interface Bus {
  publish(topic: string, payload: string): void;
  /** Messages published by any instance, this one included. Returns the unsubscribe. */
  subscribe(topic: string, listener: (payload: string) => void): () => void;
}

/**
 * Everything instances of one deployment must agree on. The local implementation serves one
 * process; the Redis one, any number.
 */
export interface Coordination {
  /** `redis` when instances share state; `local` for a single process. */
  readonly kind: 'local' | 'redis';
  readonly limits: RateLimits;
  readonly notices: Notices;
  /** Absent locally: the engine's in-process queue already orders a chat's turns. */
  readonly chatOrder?: ChatOrder;
  /** Absent locally: one process's own claims and marks say what it answered. */
  readonly answered?: AnsweredNotes;
  readonly bus: Bus;
  leadership(name: string): Leadership;
  /**
   * Run `task` on a cron `pattern` once per due time across the instances (BullMQ with Redis;
   * node-cron in this process otherwise).
   */
  every(name: string, pattern: string, task: () => Promise<unknown>): Promise<{ stop(): Promise<void> }>;
  /** A bot-wide send window shared by the instances (absent locally: the adapter counts it itself). */
  readonly sharedWindow?: SharedWindowFactory;
  /** Calls per kind counted by all instances (Slack's method tiers; absent locally: the adapter counts its own). */
  readonly sharedTally?: SharedTallyFactory;
  /**
   * Turns at starting a gateway session, shared by the instances of a bot, `windowMs` apart per
   * bucket (absent locally: the platform SDK paces this process).
   */
  readonly identifyGate?: (name: string, windowMs: number) => IdentifyGate;
  /**
   * Absent locally: the database's send marks, also written to Redis, so a note a database outage
   * holds up is not lost with a process that dies meanwhile.
   */
  readonly mirrorSendMarks?: (durable: DatedSendMarks) => SendMarks;
  /** Absent locally: a single process has no peers to mistake for dead. */
  readonly presence?: Presence;
  /** Whether Redis answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Instances saying they are alive outside the database (Redis), beside their heartbeat rows: a
 * database outage stops every instance's rows at once, and the first to sweep after it would take
 * the others for dead and answer again what they are still answering.
 */
export interface Presence {
  /** This instance is alive at `now` (its clock, as its heartbeat rows use). */
  beat(instanceId: string, now: number): Promise<void>;
  /** When each instance said so last, for those that did since `since`. */
  seenSince(since: number): Promise<Map<string, number>>;
  /** A clean stop. */
  leave(instanceId: string): Promise<void>;
}

/** Send marks as the database keeps them: each with when it was written. */
export interface DatedSendMarks {
  put(key: string, value: string, at: number): Promise<void>;
  noted(key: string): Promise<{ value: string; at: number } | undefined>;
  list(prefix: string): Promise<Array<{ key: string; value: string }>>;
  forget(key: string): Promise<void>;
}
