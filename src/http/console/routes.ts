import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { HttpContext } from '../context.js';
import { ErrorSchema } from '../schemas.js';
import { refuseCrossSite, type ConsoleCookies } from './sessions.js';

/** Sign-in attempts per minute per client address: keys are unguessable, but the admin key may be short. */
const SIGN_INS_PER_MIN = 10;

const SessionView = z
  .object({
    caller: z.object({
      keyId: z.string().describe("The key's id, or 'admin'"),
      isAdmin: z.boolean(),
      name: z.string().describe("The key's name ('Admin' for the admin key)"),
    }),
    csrfToken: z.string().describe('Send as X-CSRF-Token on every state-changing request made with the session cookie'),
    expiresAt: z.string().describe('When the session ends (ISO 8601)'),
  })
  .describe('ConsoleSession');

const SignInBody = z
  .object({ key: z.string({ error: 'key is required' }).trim().min(1, 'key is required').max(512, 'key must be at most 512 characters') })
  .strict();

/**
 * The console's sign-in: a key (admin or tenant) in, an HttpOnly session cookie out. The body
 * must be JSON, which a cross-site HTML form cannot send, so nobody can be signed in to an
 * attacker's key by a form on another site.
 */
export function consoleSessionRoutes(ctx: HttpContext, sessions: ConsoleCookies): FastifyPluginAsyncZod {
  const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema };
  return async (app) => {
    app.post(
      '/console/session',
      { schema: { tags: ['console'], summary: 'Sign in to the web console with an API key', body: SignInBody, response: { 200: SessionView, ...errors } } },
      async (req, reply) => {
        refuseCrossSite(req);
        await ctx.access.attempt(`console-sign-in:${req.ip}`, SIGN_INS_PER_MIN, 'Too many sign-in attempts; wait a minute');
        return sessions.signIn(req.body.key, req, reply);
      },
    );

    app.get(
      '/console/session',
      { schema: { tags: ['console'], summary: 'Who is signed in, and the CSRF token', response: { 200: SessionView, 401: ErrorSchema } } },
      async (req, reply) => {
        void reply.header('cache-control', 'no-store');
        return sessions.current(req);
      },
    );

    app.delete(
      '/console/session',
      {
        schema: {
          tags: ['console'],
          summary: 'Sign out (needs X-CSRF-Token)',
          response: { 200: z.object({ signedOut: z.literal(true) }), 403: ErrorSchema },
        },
      },
      async (req, reply) => {
        await sessions.signOut(req, reply);
        return { signedOut: true as const };
      },
    );
  };
}
