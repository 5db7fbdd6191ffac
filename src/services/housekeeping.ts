import type { Store } from '../store/index.js';

/** How long what only needs keeping for a while is kept (IDEMPOTENCY_RETENTION_HOURS, UPDATES_RETENTION_DAYS). */
export interface Retention {
  idempotencyRetentionHours: number;
  updatesRetentionDays: number;
}

const HOUR = 3_600_000;
/** Finished proactive attempts are kept this long, for the console's recent sends and for an operator looking back. */
export const PROACTIVE_RETENTION_DAYS = 30;
/**
 * Finished webhook deliveries are kept this long. Deleting one frees its event id, which would let
 * the same event be queued again; that is safe at any age because a delivery is only queued again
 * while its proactive message is in flight (the scheduler's retried delivery), and
 * `WebhookRepo.prune` keeps the rows of those messages whatever their age.
 */
export const WEBHOOK_RETENTION_DAYS = 30;

/**
 * Delete what only needs keeping for a while (the runtime runs this hourly): processed-event ids
 * outlive the platforms' redelivery windows (Slack: ~5 minutes) by far, instances dead for a day
 * tell nothing any more, Idempotency-Key records past their replay window and updates-feed
 * entries past theirs, adapters' notes about sends long finished, and the calls a call tally
 * left behind when it fell silent, and proactive attempts and webhook deliveries finished a month
 * ago, would otherwise grow without end. Returns what each deleted.
 */
export async function housekeep(store: Store, now: number, retention: Retention): Promise<{ events: number; idempotency: number; updates: number; marks: number; tallies: number; proactive: number; webhooks: number }> {
  const events = await store.events.prune(now - 48 * HOUR);
  await store.instances.prune(now - 24 * HOUR);
  // A reply is sent again only while its event may be redelivered or recovered: no longer than its claim is kept.
  const marks = await store.sendMarks.prune(now - 48 * HOUR);
  const idempotency = await store.idempotency.prune(now - retention.idempotencyRetentionHours * HOUR);
  const updates = await store.updates.prune(now - retention.updatesRetentionDays * 24 * HOUR);
  const tallies = await store.callTally.sweep(now);
  const proactive = await store.proactive.pruneOutbox(now - PROACTIVE_RETENTION_DAYS * 24 * HOUR);
  const webhooks = await store.webhooks.prune(now - WEBHOOK_RETENTION_DAYS * 24 * HOUR);
  return { events, idempotency, updates, marks, tallies, proactive, webhooks };
}
