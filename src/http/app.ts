import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { RawHttpRoute } from '../core/adapter.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { Engine } from '../engine/index.js';
import type { Config } from '../config.js';
import { errorHandler } from './errors.js';

/** What the HTTP layer needs; routes receive it through `app.deps`. */
export interface HttpDeps {
  config: Config;
  store: Store;
  engine: Engine;
  log: Logger;
  /** Platform webhook routes (Telegram, Slack) served on this same server. */
  rawRoutes?: RawHttpRoute[];
}

/**
 * The fastify app: health check, error mapper, and the platform webhook routes. Route modules
 * under `routes/` register the API on top.
 */
export async function buildApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }) as unknown as FastifyBaseLogger,
    bodyLimit: deps.config.maxBodyBytes,
    trustProxy: true,
  });
  app.setErrorHandler(errorHandler(deps.log));
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` } });
  });

  app.get('/health', async () => ({ status: 'ok' as const }));

  for (const route of deps.rawRoutes ?? []) mountRaw(app, route);
  return app;
}

/** Serve a node-style handler (telegraf's webhookCallback, Bolt's receiver) with the raw body. */
function mountRaw(app: FastifyInstance, route: RawHttpRoute): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.route({
      method: route.method,
      url: route.path,
      handler: async (req, reply) => {
        reply.hijack();
        const raw = req.raw as Parameters<RawHttpRoute['handle']>[0];
        raw.rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        await route.handle(raw, reply.raw);
      },
    });
  });
}
