import type { FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { HttpContext } from '../context.js';
import { consoleSessionRoutes } from './routes.js';
import { ConsoleCookies } from './sessions.js';
import { defaultConsoleDir, serveConsole } from './static.js';

export { ConsoleCookies, SESSION_COOKIE, CSRF_HEADER } from './sessions.js';
export { csrfTokenFor } from '../../services/console-sessions.js';
export { defaultConsoleDir } from './static.js';

/**
 * The operator's web console: its sign-in routes (`/console/session`) and its built pages
 * (`/console/`). Returns the sessions, whose `resolveRequest` the API key hook takes as its
 * fallback so the console's pages call the public API with the session cookie (and whose
 * `resolveViewer` the keyless avatar route takes, so the console's pictures load). Register before
 * the API so cookie parsing applies to every route.
 */
export async function registerConsole(app: FastifyInstance, ctx: HttpContext, opts: { dir?: string | undefined } = {}): Promise<ConsoleCookies> {
  await app.register(fastifyCookie);
  const sessions = new ConsoleCookies(ctx.consoleSessions, ctx.access);
  await app.withTypeProvider<ZodTypeProvider>().register(consoleSessionRoutes(ctx, sessions));
  await serveConsole(app, opts.dir ?? defaultConsoleDir());
  return sessions;
}
