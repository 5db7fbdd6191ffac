import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock.js';
import type { Character, Conversation, StoredMessage } from '../core/types.js';
import { personaKeyOf, type Engine, type Payer, type StoredMessageEvent, type TurnPersona, type TurnResult } from '../engine/index.js';
import { PaymentRequiredError, StoreUnavailableError, type CharbridgeError } from '../core/errors.js';
import { ADMIN_OWNER } from '../core/ids.js';
import { retried } from '../core/retry.js';
import type { Logger } from '../log.js';
import type { DB, OutboxRow, ProactivePolicyOverrides, ProactiveRecord, Store } from '../store/index.js';
import { proactiveCommand } from './command.js';
import { decide, effectivePolicy, nextDueAt, localTime, type ProactiveDefaults, type ProactivePolicy } from './policy.js';
import type { ProactiveTarget } from './delivery.js';

/** The marker the model answers with when it has nothing worth saying. */
export const NOTHING_TO_SAY = 'NOTHING_TO_SAY';

export const PROACTIVE_INSTRUCTION =
  `[proactive] The user has not written; you are reaching out on your own. Write one short, natural message in character: ` +
  `an opener, or a follow-up to something from the conversation above. Do not mention being an AI or that time has passed ` +
  `unless it fits. If there is nothing natural to say right now, reply with exactly ${NOTHING_TO_SAY}.`;

export interface ProactiveOptions {
  defaults: ProactiveDefaults;
  /** Identifies this process in leases (two schedulers on one database). */
  owner?: string;
  leaseMs?: number;
  /** Most conversations handled per tick. */
  batch?: number;
  /**
   * An instance not heard from for this long is dead: its `claimed` and `sending` rows are resolved
   * (10 s when unset). When set, `owner` is an instance that heartbeats (InstanceRepo), and a
   * generation it was making when it stopped is taken over at once, not after `leaseMs`.
   */
  deadAfterMs?: number;
  /** Conversations generated at once (model calls are also capped by the engine). */
  parallel?: number;
  maxDeliveryAttempts?: number;
  retryBaseMs?: number;
}

export interface TickReport {
  due: number;
  sent: number;
  nothing: number;
  failed: number;
  skipped: Record<string, number>;
  delivered: number;
  recovered: number;
}

/** Why nothing was sent; `error` when the key that pays for it refused (no credits, over its limit). */
export type SendResult = { sent: true; message: StoredMessage } | { sent: false; reason: string; error?: CharbridgeError };

/**
 * Who pays for a proactive turn: an API session's owning key, like any turn of that key (a
 * credit, and a request of its per-minute budget); the admin's sessions and platform
 * conversations are the operator's own.
 */
function payerOf(conv: Conversation): Payer | undefined {
  if (conv.platform !== 'api' || !conv.ownerId || conv.ownerId === ADMIN_OWNER) return undefined;
  return { keyId: conv.ownerId, apiKeyId: conv.ownerId, cost: PROACTIVE_COST, countsAsRequest: true };
}

/** Credits a proactive message costs an API key: the price of a text turn. */
export const PROACTIVE_COST = 1;

/** The delivery's claim was taken back (its instance was judged dead) before its first call: another instance sends it. */
class OutboxClaimLost extends Error {}

/** Thrown in a generated message's transaction when the generation is no longer this instance's: nothing is stored. */
class GenerationTakenOver extends Error {}

/** What became of one delivery of a proactive message: sent, to be retried, or given up. */
export interface ProactiveDeliveryEvent {
  platform: Conversation['platform'] | null;
  outcome: 'delivered' | 'retrying' | 'failed';
}

/** A change to a conversation's own proactive settings; null clears a field back to its default. */
export type PolicyPatch = { enabled?: boolean | null | undefined } & {
  [K in keyof ProactivePolicyOverrides]?: ProactivePolicyOverrides[K] | null | undefined;
};

/** What the scheduler works with: the engine runs its turns, the target delivers them. */
export interface SchedulerParts {
  engine: Engine;
  store: Store;
  clock: Clock;
  log: Logger;
  target: ProactiveTarget;
}

/**
 * Finds due conversations with one indexed query, claims each with a lease, asks the model for a
 * message in character, stores it as the character's own `proactive` turn and delivers it
 * through the outbox. Exactly once: the lease stops overlapping ticks and other processes; the
 * outbox row written before the model call lets a restart find a message that was generated but
 * not delivered and deliver it once, instead of losing it or generating a second.
 */
export class ProactiveScheduler {
  readonly owner: string;
  private readonly leaseMs: number;
  private readonly engine: Engine;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly target: ProactiveTarget;
  private readonly deliveryListeners: Array<(e: ProactiveDeliveryEvent) => void> = [];
  /**
   * Conversations this process is working on (an attempt, or settling what a dead one left). The
   * conversation's lease keeps other processes out, but not this one (its own lease is its own),
   * and ticks can overlap in one process (BullMQ runs several jobs at once; `/proactive test`).
   */
  private readonly busy = new Set<string>();
  /**
   * Outbox rows this process is delivering. A row claimed by this process but not in here was
   * left by a delivery that failed before it could record how (the database dropped under it):
   * as over as a dead instance's, so the next tick or heartbeat sweep takes it back.
   */
  private readonly delivering = new Set<number>();
  /** Whether the heartbeat's sweep may run (the adapters are up, no shutdown yet), and the one running. */
  private sweeping = false;
  private sweep: Promise<void> | undefined;
  /** The proactive record each conversation was last re-timed from (checked, never trusted, by `afterMessage`). */
  private readonly seen = new LRUCache<string, ProactiveRecord>({ max: 10_000 });

  constructor(parts: SchedulerParts, private readonly opts: ProactiveOptions) {
    ({ engine: this.engine, store: this.store, clock: this.clock, log: this.log, target: this.target } = parts);
    this.owner = opts.owner ?? randomUUID();
    this.leaseMs = opts.leaseMs ?? 5 * 60_000;
  }

  /**
   * A scheduler wired into its engine: every stored message re-times its conversation, and the
   * `/proactive` command reaches this scheduler.
   */
  static attach(parts: SchedulerParts, opts: ProactiveOptions): ProactiveScheduler {
    const scheduler = new ProactiveScheduler(parts, opts);
    parts.engine.alongsideMessage((tx, e) => scheduler.afterMessage(e, tx));
    parts.engine.addCommand(proactiveCommand(scheduler));
    return scheduler;
  }

  private get now() {
    return this.clock.now();
  }

  /** Be told about every delivery attempt (metrics); a listener that throws is ignored. */
  onDelivery(listener: (e: ProactiveDeliveryEvent) => void): void {
    this.deliveryListeners.push(listener);
  }

  private tell(e: ProactiveDeliveryEvent): void {
    for (const l of this.deliveryListeners) {
      try {
        l(e);
      } catch {
        // counting must never stop a delivery
      }
    }
  }

  /** One scheduler pass: recover stale generations, retry deliveries, then the due conversations. */
  async tick(): Promise<TickReport> {
    const report: TickReport = { due: 0, sent: 0, nothing: 0, failed: 0, skipped: {}, delivered: 0, recovered: 0 };
    report.recovered = await this.recoverStale();
    await this.recoverUnfinished();
    for (const row of await this.store.proactive.outboxDue(['pending'], this.now, this.opts.batch ?? 1000)) {
      if (await this.deliverRow(row)) report.delivered++;
    }
    const due = await this.store.proactive.due(this.now, this.opts.batch ?? 1000);
    report.due = due.length;
    const parallel = this.opts.parallel ?? 16;
    for (let i = 0; i < due.length; i += parallel) {
      const results = await Promise.all(due.slice(i, i + parallel).map((id) => this.attempt(id, false)));
      for (const r of results) {
        if (r.sent) {
          report.sent++;
          report.delivered += r.delivered ? 1 : 0;
        } else if (r.reason === 'nothing-to-say') report.nothing++;
        else if (r.reason === 'model-error') report.failed++;
        else report.skipped[r.reason] = (report.skipped[r.reason] ?? 0) + 1;
      }
    }
    return report;
  }

  /**
   * Between ticks, on every heartbeat: settle what a stopped process left (a dead instance's
   * generation or delivery, this process's own row a dropped connection left claimed) and send the
   * deliveries whose retry is due. A message already made then reaches its chat seconds after the
   * crash, not at the next tick (`PROACTIVE_CRON`, every 15 minutes by default), by when the user
   * may have written past it. Only ticks make new messages. One sweep at a time, and none before
   * `startSweeping` (delivering needs the adapters) or after `stopSweeping`.
   */
  recoverBetweenTicks(): void {
    if (!this.sweeping || this.sweep) return;
    this.sweep = (async () => {
      await this.recoverStale();
      const again = await this.recoverUnfinished();
      // A pending row due only just now is usually one its live instance is about to claim (or a
      // tick is sending): the sweep leaves it that long, and takes the rows it just put back.
      const stale = this.now - (this.opts.deadAfterMs ?? 10_000);
      for (const row of await this.store.proactive.outboxDue(['pending'], this.now, this.opts.batch ?? 1000)) {
        if (again.has(row.id) || row.nextAttemptAt <= stale) await this.deliverRow(row);
      }
    })()
      .catch((err: unknown) => {
        if (err instanceof StoreUnavailableError) this.log.debug({ err }, 'proactive recovery between ticks met the database away; the next heartbeat tries again');
        else this.log.warn({ err }, 'proactive recovery between ticks failed; the next heartbeat tries again');
      })
      .finally(() => (this.sweep = undefined));
  }

  /** Let the heartbeat's sweep run (once the adapters have started). */
  startSweeping(): void {
    this.sweeping = true;
  }

  /** No more sweeps; waits for the one running. */
  async stopSweeping(): Promise<void> {
    this.sweeping = false;
    await this.sweep;
  }

  /**
   * Send one proactive message now, bypassing idle, gap, cap and quiet hours (the `test` command).
   * `inLine`: the chat line the caller runs in (a command in that chat), so the turn runs in its place.
   */
  async sendNow(conversationId: string, opts: { inLine?: string } = {}): Promise<SendResult> {
    const r = await this.attempt(conversationId, true, opts.inLine);
    return r.sent ? { sent: true, message: r.message } : { sent: false, reason: r.reason, ...(r.error ? { error: r.error } : {}) };
  }

  /**
   * Each stored message re-times its conversation; a user message resets "unanswered". The
   * settings read for the previous message are usually still current: the new time is written
   * only if they are (one statement), else read again and computed from what is stored.
   */
  async afterMessage({ conversation: conv, character, message }: StoredMessageEvent, within?: DB): Promise<void> {
    if (message.kind === 'proactive' || message.kind === 'system-notice') return;
    const opts = { resetUnanswered: message.role === 'user' };
    const seen = this.seen.get(conv.id);
    if (seen) {
      const next = this.nextFor(conv, character, seen, message.createdAt);
      if (next !== undefined && (await this.store.proactive.scheduleIfUnchanged(seen, next, opts, within))) return;
    }
    const rec = await this.store.proactive.get(conv.id, within);
    if (!rec) return;
    this.seen.set(conv.id, rec);
    const next = this.nextFor(conv, character, rec, message.createdAt);
    if (next !== undefined) await this.store.proactive.schedule(conv.id, next, opts, within);
  }

  /** When a conversation is next due after a message at `at`; undefined when its policy cannot be read. */
  private nextFor(conv: Conversation, character: Character, rec: ProactiveRecord, at: string): number | null | undefined {
    try {
      return nextDueAt(effectivePolicy(conv, character, rec, this.opts.defaults), Date.parse(at), rec.lastAt);
    } catch (err) {
      // A policy that cannot be read must not cost the message it came with: the time stays as it was.
      this.log.warn({ err, conversationId: conv.id }, 'could not re-time proactive messages');
      return undefined;
    }
  }

  /** Re-time after a policy change (HTTP PATCH, /proactive on|off). */
  async reschedule(conversationId: string): Promise<ProactivePolicy | undefined> {
    const loaded = await this.load(conversationId);
    if (!loaded) return undefined;
    const { conv, policy, rec } = loaded;
    const last = conv.lastActivityAt ? Date.parse(conv.lastActivityAt) : null;
    await this.store.proactive.schedule(conv.id, last === null ? null : nextDueAt(policy, last, rec.lastAt));
    return policy;
  }

  /**
   * Change what a conversation sets itself: `enabled`, and policy fields (null clears a field
   * back to its default; `quietHours: null` means none). Then re-time it.
   */
  async updatePolicy(conversationId: string, patch: PolicyPatch): Promise<void> {
    const current = await this.store.proactive.get(conversationId);
    if (!current) return;
    const { enabled, ...policy } = patch;
    const merged: Record<string, unknown> = { ...current.policy };
    for (const [k, v] of Object.entries(policy)) {
      if (v === undefined) continue;
      if (v === null && k !== 'quietHours') delete merged[k];
      else merged[k] = v;
    }
    await this.store.proactive.setSettings(conversationId, { ...(enabled !== undefined ? { enabled } : {}), policy: merged });
    await this.reschedule(conversationId);
  }

  /** The effective policy of a conversation (for GET …/proactive and /proactive). */
  async policyOf(conversationId: string) {
    return this.load(conversationId);
  }

  private async load(conversationId: string) {
    const conv = await this.store.conversations.get(conversationId);
    const rec = await this.store.proactive.get(conversationId);
    if (!conv || !rec) return undefined;
    const character = await this.engine.characterOf(conv);
    return { conv, rec, character, policy: effectivePolicy(conv, character, rec, this.opts.defaults) };
  }

  private async attempt(
    conversationId: string,
    forced: boolean,
    inLine?: string,
  ): Promise<{ sent: true; message: StoredMessage; delivered: boolean } | { sent: false; reason: string; error?: CharbridgeError }> {
    if (this.busy.has(conversationId)) return { sent: false, reason: 'claimed-elsewhere' };
    this.busy.add(conversationId);
    try {
      return await this.attemptHeld(conversationId, forced, inLine);
    } finally {
      this.busy.delete(conversationId);
    }
  }

  private async attemptHeld(
    conversationId: string,
    forced: boolean,
    inLine?: string,
  ): Promise<{ sent: true; message: StoredMessage; delivered: boolean } | { sent: false; reason: string; error?: CharbridgeError }> {
    const { proactive } = this.store;
    // A dead instance's lease is taken at once (with `deadAfterMs`): whatever it left unsettled is
    // settled below before anything new is made.
    if (!(await proactive.claim(conversationId, this.owner, this.now, this.leaseMs, this.opts.deadAfterMs))) return { sent: false, reason: 'claimed-elsewhere' };
    try {
      // A generation left unsettled (its process died, or a dropped connection failed its turn)
      // is settled first: its message, if stored, is this conversation's next one, not a new one.
      const open = await proactive.openGeneration(conversationId);
      if (open && (await this.resolveGeneration(open)) !== 'abandoned') return { sent: false, reason: 'recovered' };
      const loaded = await this.load(conversationId);
      if (!loaded) return { sent: false, reason: 'gone' };
      const { conv, rec, character, policy } = loaded;
      const last = conv.lastActivityAt ? Date.parse(conv.lastActivityAt) : this.now;
      let day = localTime(this.now, policy.quietHours?.timezone ?? 'UTC').day;
      if (!forced) {
        const verdict = decide(policy, rec, last, this.now);
        if (!verdict.send) {
          await proactive.schedule(conv.id, verdict.retryAt);
          return { sent: false, reason: verdict.reason };
        }
        day = verdict.day;
      }
      // The paying key's credits are reserved with the row, so a crash that leaves it unsettled
      // gives them back once it is found to have stored nothing.
      const payer = payerOf(conv);
      const generation = await proactive.addGeneration(conv.id, this.now, forced, this.owner, this.leaseMs, payer?.apiKeyId ? { apiKeyId: payer.apiKeyId, cost: payer.cost } : undefined);
      if (generation === 'lease-lost') return { sent: false, reason: 'claimed-elsewhere' };
      if (generation === 'no-credits') {
        await proactive.schedule(conv.id, this.now + Math.max(60 * 60_000, policy.minGapMinutes * 60_000));
        return { sent: false, reason: 'no-credits', error: new PaymentRequiredError() };
      }
      const lastUser = (await this.store.messages.newest(conv.id, { limit: 1, kinds: ['user'] }))[0];
      const persona = await this.personaOf(conv, lastUser);
      // The message is stored only with its generation settled as this instance's (counted as sent),
      // in one transaction: a generation another instance took over meanwhile (this one was judged
      // dead, say while stalled) stores nothing, rather than a message that nobody delivers.
      let sentAt = this.now;
      const { result } = this.engine.turn({
        source: 'scheduler',
        conversation: conv,
        character,
        chatType: conv.chatType,
        userName: lastUser?.authorName ?? 'there',
        ...(persona ? { persona } : {}),
        replyKind: 'proactive',
        replyKey: generatedKey(generation),
        instruction: PROACTIVE_INSTRUCTION,
        accept: (text) => !text.includes(NOTHING_TO_SAY),
        ...(payer ? { payer: { ...payer, reserved: true } } : {}),
        inLine,
        alongside: async (tx, stored) => {
          sentAt = this.now;
          const counted = (t: DB) => proactive.recordSent(conv.id, sentAt, day, nextDueAt(policy, sentAt, sentAt), {}, t);
          if (!(await proactive.settleGeneration(generation, this.owner, { state: 'pending', messageId: stored.id, nextAttemptAt: sentAt }, sentAt, counted, tx))) throw new GenerationTakenOver();
        },
      });
      let r: TurnResult;
      try {
        r = await result;
      } catch (err) {
        if (!(err instanceof GenerationTakenOver)) throw err;
        this.log.warn({ conversationId: conv.id }, 'a proactive generation was taken over by another instance before its message was stored; storing nothing, leaving it to that one');
        return { sent: false, reason: 'taken-over' };
      }
      const now = this.now;
      // Each outcome settles the generation, with what it changes in the conversation, in one
      // transaction, and only while the generation is still this instance's: one taken over (this
      // instance was judged dead) is the taker's to finish.
      const settle = async (patch: Parameters<typeof proactive.settleGeneration>[2], then: (tx: DB) => Promise<void>) => {
        const held = await proactive.settleGeneration(generation, this.owner, patch, now, then);
        if (!held) this.log.warn({ conversationId: conv.id, outcome: patch.state }, 'a proactive generation was taken over by another instance before it finished; leaving it to that one');
        return held;
      };
      if (!r.ok && (r.error.status === 402 || r.error.status === 429)) {
        // The key that owns the session is over its rate limit: skipped, looked at again later.
        await settle({ state: 'skipped', error: r.error.message.slice(0, 500) }, (tx) => proactive.schedule(conv.id, now + Math.max(60 * 60_000, policy.minGapMinutes * 60_000), {}, tx));
        return { sent: false, reason: r.error.status === 402 ? 'no-credits' : 'rate-limited', error: r.error };
      }
      if (!r.ok) {
        await settle({ state: 'error', error: r.error.message.slice(0, 500) }, (tx) => proactive.schedule(conv.id, now + Math.max(15 * 60_000, policy.minGapMinutes * 60_000 / 4), {}, tx));
        return { sent: false, reason: 'model-error' };
      }
      if (r.message === null) {
        await settle({ state: 'nothing' }, (tx) => proactive.schedule(conv.id, nextDueAt(policy, now, rec.lastAt), {}, tx));
        return { sent: false, reason: 'nothing-to-say' };
      }
      const delivered = await this.deliverRow({ id: generation, conversationId: conv.id, messageId: r.message.id, state: 'pending', attempts: 0, nextAttemptAt: sentAt, forced, createdAt: sentAt });
      return { sent: true, message: r.message, delivered };
    } finally {
      await proactive.release(conversationId, this.owner);
    }
  }

  /**
   * The persona of the one person a platform DM is with, as their own turns use it: the character
   * reaches out to who they said they are. A group has no one persona; an API session's persona
   * comes with each request and is not kept.
   */
  private async personaOf(conv: Conversation, lastUser: StoredMessage | undefined): Promise<TurnPersona | undefined> {
    if (conv.platform === 'api' || conv.chatType !== 'dm' || !lastUser?.authorId) return undefined;
    return this.store.personas.get(personaKeyOf({ platform: conv.platform, userId: lastUser.authorId }));
  }

  /** Deliver one stored message; on failure retry with backoff, then give up and record it. */
  private async deliverRow(row: OutboxRow): Promise<boolean> {
    const { proactive } = this.store;
    // Claimed first, so another instance never sends it too. It becomes `sending` only right
    // before its first platform call (after any wait for room in the outbound budget): a crash
    // before that leaves it `claimed`, sent by the next instance; one after leaves it `sending`,
    // never sent a second time where that could show it twice (see recoverUnfinished).
    // Marked before the claim, so this process's own recovery never reads it as left behind.
    if (this.delivering.has(row.id)) return false;
    this.delivering.add(row.id);
    try {
      return (await proactive.claimOutbox(row.id, this.owner, this.now)) && (await this.deliverClaimed(row));
    } finally {
      this.delivering.delete(row.id);
    }
  }

  private async deliverClaimed(row: OutboxRow): Promise<boolean> {
    const { proactive } = this.store;
    const conv = await this.store.conversations.get(row.conversationId);
    const message = row.messageId ? await this.store.messages.get(row.messageId) : undefined;
    if (!conv || !message) {
      await proactive.updateOutbox(row.id, { state: 'failed', error: 'conversation or message deleted' }, this.now);
      this.tell({ platform: conv?.platform ?? null, outcome: 'failed' });
      return false;
    }
    const beforeFirstCall = async (): Promise<void> => {
      let held = false;
      let failure: unknown;
      if (!(await retried(async () => (held = await proactive.startSending(row.id, this.owner, this.now)), (err) => (failure = err)))) throw failure;
      if (!held) throw new OutboxClaimLost();
    };
    try {
      await this.target.deliver(conv, await this.engine.characterOf(conv), message, { retry: row.attempts > 0, beforeFirstCall });
      await proactive.updateOutbox(row.id, { state: 'delivered', attempts: row.attempts + 1 }, this.now);
      this.tell({ platform: conv.platform, outcome: 'delivered' });
      return true;
    } catch (err) {
      if (err instanceof OutboxClaimLost) {
        this.log.warn({ conversationId: conv.id }, 'a proactive delivery was taken over by another instance before it left; not sending it');
        return false;
      }
      const attempts = row.attempts + 1;
      const give = attempts >= (this.opts.maxDeliveryAttempts ?? 5);
      const error = err instanceof Error ? err.message.slice(0, 500) : String(err);
      await proactive.updateOutbox(row.id, { state: give ? 'failed' : 'pending', attempts, error, nextAttemptAt: this.now + (this.opts.retryBaseMs ?? 60_000) * 2 ** (attempts - 1) }, this.now);
      this.log.warn({ conversationId: conv.id, attempts, error }, give ? 'proactive delivery failed for good' : 'proactive delivery failed; will retry');
      this.tell({ platform: conv.platform, outcome: give ? 'failed' : 'retrying' });
      return false;
    }
  }

  /**
   * Deliveries a dead instance held. One that never began leaving (`claimed`: it waited for room
   * in the outbound budget) is sent again. Of one it was sending, where a message sent again still
   * shows once (an API session's feed entry and webhook; Discord and Slack, by the message's key)
   * it is sent again, as a retry; elsewhere (Telegram) it may already have arrived, and a message
   * is better missing than doubled, so it is recorded as uncertain. This process's own rows that
   * it is not delivering are treated the same: their delivery failed on the database before it
   * could say how far it got.
   */
  private async recoverUnfinished(): Promise<Set<number>> {
    const { proactive } = this.store;
    const again = new Set<number>();
    for (const row of await proactive.leftUnfinished(this.now, this.opts.deadAfterMs ?? 10_000, 100, this.owner)) {
      if (this.delivering.has(row.id)) continue;
      const conv = await this.store.conversations.get(row.conversationId);
      // Each takes the row back only as it was listed: a delivery that ended since stays ended.
      if (row.state === 'claimed' || conv?.platform === 'api') {
        if (await proactive.takeBack(row, { state: 'pending', nextAttemptAt: this.now }, this.now)) again.add(row.id);
      } else if (conv && this.target.sendsOnceByKey?.(conv.platform)) {
        // Counted as an attempt, so the next one is a retry: it looks for what this one showed.
        if (await proactive.takeBack(row, { state: 'pending', attempts: row.attempts + 1, nextAttemptAt: this.now }, this.now)) again.add(row.id);
      } else if (await proactive.takeBack(row, { state: 'uncertain', error: 'the sending process stopped; it may or may not have arrived' }, this.now)) {
        this.log.warn({ conversationId: row.conversationId }, 'a proactive message was being sent when its process stopped; not sending it twice');
      }
    }
    return again;
  }

  /**
   * A `generating` row whose process stopped mid-turn: its instance is no longer heard from (with
   * `deadAfterMs`), or its lease ran out. Settled as `resolveGeneration` says; a conversation whose
   * generation is abandoned is still due, and is tried again in this tick.
   */
  private async recoverStale(): Promise<number> {
    const { proactive } = this.store;
    let recovered = 0;
    for (const row of await proactive.stalledGenerations(this.now, this.opts.deadAfterMs, 100, this.owner)) {
      if (this.busy.has(row.conversationId)) continue;
      this.busy.add(row.conversationId);
      try {
        if (!(await proactive.claim(row.conversationId, this.owner, this.now, this.leaseMs, this.opts.deadAfterMs))) continue;
        try {
          if ((await this.resolveGeneration(row)) === 'delivered') recovered++;
        } finally {
          await proactive.release(row.conversationId, this.owner);
        }
      } finally {
        this.busy.delete(row.conversationId);
      }
    }
    return recovered;
  }

  /**
   * Settle a generation its process left unsettled (the caller holds the conversation's lease).
   * The message it stored, found by the key its turn stored it under (never by time: a later
   * generation's message is not this one's), is delivered once and counted as sent, unless one
   * was counted since; a generation that stored nothing is `abandoned`. (A message is stored only
   * with its generation settled; one found here was stored apart from it by an older version,
   * running beside this one in a rolling deploy.)
   */
  private async resolveGeneration(row: OutboxRow): Promise<'delivered' | 'pending' | 'abandoned' | 'taken'> {
    const { proactive } = this.store;
    const made = await this.store.messages.bySourceEvent(generatedKey(row.id));
    if (!made) return (await proactive.settleGeneration(row.id, undefined, { state: 'abandoned' }, this.now)) ? 'abandoned' : 'taken';
    const loaded = await this.load(row.conversationId);
    const tz = loaded?.policy.quietHours?.timezone ?? 'UTC';
    const madeAt = Date.parse(made.createdAt);
    const counted = (tx: DB) =>
      proactive.recordSent(row.conversationId, madeAt, localTime(this.now, tz).day, loaded ? nextDueAt(loaded.policy, this.now, this.now) : null, { ifLastBefore: row.createdAt }, tx);
    if (!(await proactive.settleGeneration(row.id, undefined, { state: 'pending', messageId: made.id, nextAttemptAt: this.now }, this.now, counted))) return 'taken';
    return (await this.deliverRow({ ...row, messageId: made.id, state: 'pending' })) ? 'delivered' : 'pending';
  }
}

/** The key a generation's message is stored under: its outbox row. */
function generatedKey(outboxId: number): string {
  return `proactive:${outboxId}`;
}
