import type { Step } from '../pipeline.js';
import { resolved } from '../pipeline.js';
import { NoticeGate } from '../limits.js';

const gate = new NoticeGate();

export function rateLimitText(retryAfterMs: number): string {
  return `You're sending messages too quickly. Please wait about ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s.`;
}

/**
 * Per-user and per-group message budgets. Over either, the message never reaches the model and
 * the user is told once per window — further messages in the same window are dropped quietly.
 */
export const rateLimit: Step = async (ctx, next) => {
  const { limits, config, clock } = ctx.deps;
  const { settings } = resolved(ctx);
  const { msg } = ctx;
  const userKey = `user:${msg.platform}:${msg.userId}`;
  const userPerMin = settings.userLimitPerMin ?? config.userPerMin;
  const checks: Array<[string, number]> = [[msg.chatType === 'dm' ? userKey : `${userKey}@${ctx.chatKey}`, userPerMin]];
  if (msg.chatType !== 'dm') checks.push([`group:${ctx.chatKey}`, config.groupPerMin]);
  for (const [key, perMin] of checks) {
    const r = await limits.consume(key, perMin);
    if (!r.ok) {
      const now = clock.now();
      if (gate.shouldNotify(key, now, now + r.retryAfterMs)) {
        ctx.out.push({ type: 'notice', text: rateLimitText(r.retryAfterMs), reason: 'rate-limited' });
      }
      ctx.deps.log.debug({ key, retryAfterMs: r.retryAfterMs }, 'rate limited');
      return;
    }
  }
  await next();
};
