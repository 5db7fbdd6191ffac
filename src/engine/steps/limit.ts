import { ConflictError, EmptyReplyError, PaymentRequiredError, RateLimitedError, StoreUnavailableError, TurnHandedOffError } from '../../core/errors.js';
import { retriedInBackground } from '../../core/retry.js';
import { modelStatusOf } from '../../llm/index.js';
import type { MessageContext, Payer, Step, TurnContext } from '../pipeline.js';
import type { Claim } from '../../store/index.js';
import { resolvedChat } from '../pipeline.js';

export function rateLimitText(retryAfterMs: number): string {
  return `You're sending messages too quickly. Please wait about ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s.`;
}

/**
 * Every turn's limits and budgets, in one place. A platform message: per-user and per-group
 * message budgets — over either, the message never reaches the model and the user is told once
 * per window. A turn paid by an API key: its credits are reserved (released again if the turn
 * does not produce a reply), and a scheduled one also takes a point of the key's per-minute
 * budget (an HTTP request took its point when authenticated); refused with 402 / 429 before any work.
 * A durable turn's unused credits are given back as its claim closes (`creditsOwedBack`).
 */
export const limit: Step = async (ctx, next) => {
  if (ctx.source === 'platform') return limitMessage(ctx as MessageContext, next);
  if (ctx.payer) return chargePayer(ctx, ctx.payer, next);
  return next();
};

async function limitMessage(ctx: MessageContext, next: () => Promise<void>): Promise<void> {
  const { limits, config, clock, notices, log } = ctx.deps;
  const { settings } = resolvedChat(ctx);
  const { msg } = ctx;
  const userKey = `user:${msg.platform}:${msg.userId}`;
  const userPerMin = settings.userLimitPerMin ?? config.userPerMin;
  const checks: Array<[string, number]> = [[msg.chatType === 'dm' ? userKey : `${userKey}@${ctx.chatKey}`, userPerMin]];
  if (msg.chatType !== 'dm') checks.push([`group:${ctx.chatKey}`, config.groupPerMin]);
  for (const [key, perMin] of checks) {
    const r = await limits.consume(key, perMin);
    if (!r.ok) {
      const now = clock.now();
      if (await notices.shouldNotify(key, now, now + r.retryAfterMs)) {
        ctx.out.push({ type: 'notice', text: rateLimitText(r.retryAfterMs), reason: 'rate-limited' });
      }
      log.debug({ key, retryAfterMs: r.retryAfterMs }, 'rate limited');
      return;
    }
  }
  await next();
}

async function chargePayer(ctx: TurnContext, payer: Payer, next: () => Promise<void>): Promise<void> {
  const { limits, config, store, log } = ctx.deps;
  if (payer.countsAsRequest) {
    const r = await limits.consume(`apikey:${payer.keyId}`, config.apiKeyPerMin);
    if (!r.ok) throw new RateLimitedError(r.retryAfterMs);
  }
  if (payer.reserved) return next();
  // Tenant keys only (the admin is not limited); see RefusedTurns and `refusedByModel`.
  const refusals = payer.apiKeyId ? ctx.deps.refusals : undefined;
  // A turn already accepted (resumed after a crash) is answered whatever the count says now.
  if (refusals && !ctx.durable?.resumed) refusals.admit(payer.keyId);
  const { apiKeyId } = payer;
  const durable = ctx.durable;
  /** A new durable turn's claim, made here with its reservation. */
  let claim: Claim | undefined;
  if (durable && !durable.resumed) {
    // The claim and the reservation in one transaction: a crash keeps both or neither.
    claim = { platform: 'api', eventId: durable.eventId, owner: config.instanceId, now: ctx.deps.clock.now(), deadAfterMs: config.deadAfterMs, leaseMs: config.eventLeaseMs, payload: durable.payload };
    let r: 'claimed' | 'duplicate' | 'no-credits';
    try {
      r = apiKeyId ? await store.events.claimPaid(claim, apiKeyId, payer.cost) : (await store.events.claim(claim)) ? 'claimed' : 'duplicate';
    } catch (err) {
      // The caller hears that the turn failed (503, retry with an Idempotency-Key), yet the
      // connection may have dropped as the claim committed: undone once the database answers,
      // so a turn its caller was told failed is neither answered later nor paid for.
      if (err instanceof StoreUnavailableError) ctx.deps.tasks.track(withdrawClaim(ctx, claim, apiKeyId, payer.cost));
      throw err;
    }
    if (r === 'no-credits') throw new PaymentRequiredError();
    if (r === 'duplicate') throw new ConflictError('This turn is already being answered', 'DUPLICATE_TURN');
  } else if (apiKeyId && !durable?.resumed && !(await store.apiKeys.reserve(apiKeyId, payer.cost))) throw new PaymentRequiredError();
  let charged = false;
  try {
    await next();
    charged = ctx.result?.ok === true && ctx.result.message !== null;
    if (refusals && ctx.result?.ok === false && refusedByModel(ctx.result.error)) {
      await refusals.count(payer.keyId).catch((err: unknown) => log.warn({ err, keyId: payer.keyId }, 'could not count a refused turn'));
    }
  } catch (err) {
    // Refused before its caller heard it was accepted (a new session the database dropped under,
    // say): the caller is told it failed, so it is undone — neither answered later, which the
    // caller's retry would make a second turn, nor paid for. Its credits go back with the claim.
    if (claim && !ctx.admitted) {
      charged = true;
      ctx.deps.tasks.track(withdrawClaim(ctx, claim, apiKeyId, payer.cost));
      throw err;
    }
    // The recovery sweep finishes it once the database is back, on the credits reserved now
    // (handed to it then, should the hand-over itself wait for the database).
    if (err instanceof StoreUnavailableError && durable?.finishLater) {
      const release = () => store.events.release('api', durable.eventId, config.instanceId);
      await ctx.deps.owed.land(`api:${durable.eventId}`, release);
      charged = true;
      log.warn({ eventId: durable.eventId }, 'the database dropped during an API turn; it is finished once it is back');
      throw new TurnHandedOffError(err.message, err);
    }
    throw err;
  } finally {
    // A durable turn's credits go back with its claim's closing (once, and retried safely);
    // only a turn with no claim to close them with gives them back here.
    if (!charged && apiKeyId && durable) ctx.creditsOwedBack = { apiKeyId, cost: payer.cost };
    else if (!charged && apiKeyId) {
      await store.apiKeys.release(apiKeyId, payer.cost).catch((err: unknown) => log.error({ err, apiKeyId }, 'could not release reserved credits'));
    }
  }
}

/**
 * The provider's answers that refuse a request for what it holds: 400 (a prompt its safety system
 * or context length refuses), 413 and 422. Its other 4xx are about the operator's account, key or
 * model names (401, 403, 404) or its rate limit (429), which no tenant input causes.
 */
const REFUSING_STATUSES = new Set([400, 413, 422]);

/** Whether the model refused the turn for what it was sent, or answered with nothing: what a tenant's own input can cause. */
export function refusedByModel(err: unknown): boolean {
  if (err instanceof EmptyReplyError) return true;
  const status = modelStatusOf(err);
  return status !== undefined && REFUSING_STATUSES.has(status);
}

async function withdrawClaim(ctx: TurnContext, claim: Claim, apiKeyId: string | null, cost: number): Promise<void> {
  const { store, log, owed } = ctx.deps;
  const withdraw = async () => {
    if (await store.events.withdraw(claim, apiKeyId ? (tx) => store.apiKeys.release(apiKeyId, cost, tx) : undefined)) {
      log.warn({ eventId: claim.eventId }, 'an API turn its caller was told failed was undone: its claim is closed and its credits given back');
    }
  };
  const failed = (err: unknown) =>
    log.error({ err, eventId: claim.eventId }, 'could not undo an API turn its caller was told failed; trying again with each heartbeat (should this process stop first, the recovery sweep answers it)');
  // Left as it is, the claim would be this live process's until it stopped, holding its credits.
  if (!(await retriedInBackground(withdraw, failed))) owed.owe(`api:${claim.eventId}`, withdraw);
}
