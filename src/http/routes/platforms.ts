import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { adminOf } from '../auth.js';
import { errorResponses, ErrorSchema, security } from '../schemas.js';
import type { HttpContext } from '../context.js';

const RECENT_SENDS = 20;

const PlatformStatusSchema = z
  .object({
    platform: z.enum(['telegram', 'discord', 'slack']),
    mode: z.string().describe('polling, webhook, gateway, socket or http'),
    connected: z.boolean().nullable().describe('null when the adapter does not report it'),
    lastEventAt: z.string().nullable().describe('Newest event received from the platform'),
    lastError: z.object({ message: z.string(), at: z.string() }).nullable(),
    rateLimitWaits: z.number().int().describe('429s (flood waits) waited out since start'),
    sent: z.number().int().nullable().describe('Messages posted, edited or streamed since start (null: the adapter is not running in this process)'),
    inFlight: z.number().int().nullable().describe('Events being answered now (null: not running in this process)'),
    outbound: z
      .object({ queued: z.number().int().describe('Sends waiting for the outbound budget now'), waitedMs: z.number().describe('How long started sends waited in total') })
      .nullable()
      .describe("The outbound budget's line (null: not known)"),
  })
  .describe('PlatformStatus');

const PlatformsResponse = z
  .object({
    platforms: z.array(PlatformStatusSchema).describe('One per configured platform adapter'),
    proactive: z.object({
      cron: z.string().describe('PROACTIVE_CRON'),
      defaults: z.object({ minIdleMinutes: z.number().int(), minGapMinutes: z.number().int(), dailyCap: z.number().int(), maxUnanswered: z.number().int() }),
      scheduled: z.number().int().describe('Conversations with a proactive message scheduled'),
      nextDueAt: z.string().nullable().describe('When the next one becomes due'),
      recentSends: z.array(
        z.object({
          conversationId: z.string(),
          platform: z.string().nullable(),
          characterId: z.string().nullable(),
          state: z.string().describe('generating, pending, claimed (an instance will send it), sending (its first call started), delivered, failed, uncertain (its process stopped while sending, on a platform that cannot tell whether it arrived), nothing (the model had nothing to say), abandoned, skipped (the paying key could not pay), error'),
          attempts: z.number().int(),
          error: z.string().nullable(),
          forced: z.boolean().describe('Sent by a test request, bypassing the policy'),
          at: z.string(),
        }),
      ),
    }),
  })
  .describe('Platforms');

/** The admin's view of the platform adapters and the proactive scheduler. */
export function platformRoutes(ctx: HttpContext): FastifyPluginAsyncZod {
  const { platforms: overview, config } = ctx;
  return async (app) => {
    app.get(
      '/platforms',
      {
        schema: {
          tags: ['admin'],
          summary: "Each platform adapter's state, the proactive schedule and recent proactive sends",
          security,
          response: { 200: PlatformsResponse, ...errorResponses, 403: ErrorSchema.describe('Not the admin key') },
        },
      },
      async (req) => {
        adminOf(req);
        const [platforms, schedule] = await Promise.all([overview.adapters(), overview.proactive(RECENT_SENDS)]);
        const { cron, ...defaults } = config.proactive;
        return {
          platforms,
          proactive: {
            cron,
            defaults,
            scheduled: schedule.scheduled,
            nextDueAt: schedule.nextDueAt === null ? null : new Date(schedule.nextDueAt).toISOString(),
            recentSends: schedule.recentSends.map(({ updatedAt, id: _id, ...s }) => ({ ...s, at: new Date(updatedAt).toISOString() })),
          },
        };
      },
    );
  };
}
