import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { CharbridgeError, ConflictError, ValidationError } from '../../core/errors.js';
import { isTimeZone, TENANT_FLOORS } from '../../scheduler/index.js';
import { callerOf } from '../auth.js';
import { errorResponses, ErrorSchema, IdParams, MessageSchema, security } from '../schemas.js';
import type { HttpContext } from '../context.js';

const hhmm = (field: string) => z.string({ error: `${field} must be a time like 23:00` }).regex(/^([01]\d|2[0-3]):[0-5]\d$/, `${field} must be a time like 23:00`);
const minutes = (field: string, max: number) =>
  z.number({ error: `${field} must be a number` }).int(`${field} must be a whole number`).min(0, `${field} must be 0-${max}`).max(max, `${field} must be 0-${max}`);

const QuietHours = z
  .object({
    start: hhmm('quietHours.start'),
    end: hhmm('quietHours.end'),
    timezone: z.string({ error: 'quietHours.timezone must be an IANA time zone' }).refine(isTimeZone, 'quietHours.timezone must be an IANA time zone such as Europe/Berlin'),
  })
  .strict();

const PolicyPatch = z
  .object({
    enabled: z.boolean({ error: 'enabled must be true, false or null' }).nullable().optional().describe('null returns to the default (on in DMs and API conversations of a character that can initiate)'),
    minIdleMinutes: minutes('minIdleMinutes', 525_600).optional(),
    minGapMinutes: minutes('minGapMinutes', 525_600).optional(),
    dailyCap: minutes('dailyCap', 1000).optional(),
    maxUnanswered: minutes('maxUnanswered', 1000).optional(),
    quietHours: QuietHours.nullable().optional(),
  })
  .strict();

const PolicyResponse = z
  .object({
    sessionId: z.string(),
    enabled: z.boolean().describe('Effective: also false when the character cannot initiate conversations'),
    canInitiate: z.boolean(),
    minIdleMinutes: z.number().int(),
    minGapMinutes: z.number().int(),
    dailyCap: z.number().int(),
    maxUnanswered: z.number().int(),
    quietHours: QuietHours.nullable(),
    overrides: z.record(z.string(), z.unknown()).describe('What this conversation sets; the rest comes from the character and the server defaults'),
    nextCheckAt: z.string().nullable().describe('When the scheduler next looks at this conversation'),
    unanswered: z.number().int(),
  })
  .describe('ProactivePolicy');

/** A tenant's session may not ask for more than TENANT_FLOORS allow (each message costs a model call). */
function checkTenantFloors(body: { minGapMinutes?: number | null | undefined; dailyCap?: number | null | undefined }): void {
  if (typeof body.minGapMinutes === 'number' && body.minGapMinutes < TENANT_FLOORS.minGapMinutes) {
    throw new ValidationError(`minGapMinutes must be at least ${TENANT_FLOORS.minGapMinutes} for an API key`, { field: 'minGapMinutes' });
  }
  if (typeof body.dailyCap === 'number' && body.dailyCap > TENANT_FLOORS.maxDailyCap) {
    throw new ValidationError(`dailyCap must be at most ${TENANT_FLOORS.maxDailyCap} for an API key`, { field: 'dailyCap' });
  }
}

/**
 * Per-conversation proactive policy (`GET`/`PATCH …/proactive`) and a test send that bypasses
 * idle, gap, cap and quiet hours but goes through the normal delivery path (feed + webhook).
 */
export function proactiveRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { conversations } = ctx;
  const scheduler = () => {
    if (!ctx.scheduler) throw new CharbridgeError('PROACTIVE_UNAVAILABLE', 'Proactive messages are not running on this server', { status: 503 });
    return ctx.scheduler;
  };
  const view = async (id: string) => {
    const loaded = await scheduler().policyOf(id);
    if (!loaded) throw new CharbridgeError('NOT_FOUND', 'Conversation not found', { status: 404 });
    const { policy, rec, character } = loaded;
    const { enabled, ...rest } = policy;
    return {
      sessionId: id,
      enabled,
      canInitiate: character.canInitiateConversation,
      ...rest,
      overrides: { ...(rec.enabled !== null ? { enabled: rec.enabled } : {}), ...rec.policy },
      nextCheckAt: rec.nextAt === null ? null : new Date(rec.nextAt).toISOString(),
      unanswered: rec.unanswered,
    };
  };

  return async (app) => {
    app.get(
      '/conversations/:id/proactive',
      { schema: { tags: ['proactive'], summary: 'The effective proactive policy of a conversation', security, params: IdParams, response: { 200: PolicyResponse, ...errorResponses } } },
      async (req) => view((await conversations.get(callerOf(req), req.params.id)).id),
    );

    app.patch(
      '/conversations/:id/proactive',
      {
        schema: {
          tags: ['proactive'],
          summary: 'Change the proactive policy (partial; null clears a setting back to its default)',
          security,
          params: IdParams,
          body: PolicyPatch,
          response: { 200: PolicyResponse, ...errorResponses },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const conv = await conversations.get(caller, req.params.id);
        if (!caller.isAdmin) checkTenantFloors(req.body);
        await scheduler().updatePolicy(conv.id, req.body);
        return view(conv.id);
      },
    );

    app.post(
      '/conversations/:id/proactive/test',
      {
        schema: {
          tags: ['proactive'],
          summary: 'Send one proactive message now, through the normal delivery path',
          security,
          params: IdParams,
          response: { 200: z.object({ sessionId: z.string(), sent: z.literal(true), message: MessageSchema }), ...errorResponses, 409: ErrorSchema },
        },
      },
      async (req) => {
        const conv = await conversations.get(callerOf(req), req.params.id);
        const r = await scheduler().sendNow(conv.id);
        if (!r.sent && r.error) throw r.error; // the key cannot pay for it: 402, or 429
        if (!r.sent) throw new ConflictError(`Nothing was sent: ${r.reason}`, 'PROACTIVE_NOT_SENT');
        return { sessionId: conv.id, sent: true as const, message: { id: r.message.id, content: r.message.content, sentAt: r.message.createdAt } };
      },
    );
  };
}
