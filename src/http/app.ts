import { createServer } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RawHttpRoute } from '../core/adapter.js';
import type { Logger } from '../log.js';
import type { Config } from '../config.js';
import type { Services } from '../services/index.js';
import { errorHandler, toErrorResponse } from './errors.js';
import { answerOversizedBodies } from './body-limits.js';
import { guardJsonDepth } from './json-body.js';
import { refuseNulText } from './text-input.js';
import { apiKeyHook } from './auth.js';
import type { HttpContext } from './context.js';
import { characterRoutes } from './routes/characters.js';
import { chatRoutes } from './routes/chat.js';
import { conversationRoutes } from './routes/conversations.js';
import { memoryRoutes } from './routes/memory.js';
import { updateRoutes } from './routes/updates.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { registerDialects } from './dialects/index.js';
import { proactiveRoutes } from './routes/proactive.js';
import type { ProactiveScheduler } from '../scheduler/index.js';
import { registerConsole } from './console/index.js';
import { usageRoutes } from './routes/usage.js';
import { platformRoutes } from './routes/platforms.js';
import type { CallerResolver } from './auth.js';
import { registerProbes, type MetricsEndpoint } from './probes.js';
import { cardRoutes, registerAvatarRoute } from './routes/cards.js';
import { lorebookRoutes } from './routes/lorebooks.js';

/** What the HTTP layer needs; route modules receive it as an HttpContext. */
export interface HttpDeps {
  config: Config;
  log: Logger;
  services: Services;
  /** Platform webhook routes (Telegram, Slack) served on this same server. */
  rawRoutes?: RawHttpRoute[];
  /** The proactive scheduler behind `…/proactive` routes. */
  scheduler?: ProactiveScheduler;
  /** The built console (default `dist/console`). */
  consoleDir?: string;
  /** Served at `/metrics` (Prometheus); no such route without it. */
  metrics?: MetricsEndpoint;
}

/** fastify types its compiler factories for ajv and fast-json-stringify; zod's take the same route schema. */
type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
const zodCompilers = {
  buildValidator: () => validatorCompiler,
  buildSerializer: () => serializerCompiler,
} as unknown as CompilersFactory;

/**
 * The fastify app: health check, error mapper, the platform webhook routes, and the HTTP API
 * (`/api/v1`, one route module per resource) with its OpenAPI document at `/openapi.json` and
 * docs at `/docs`, both generated from the routes' zod schemas.
 */
export async function buildApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }) as unknown as FastifyBaseLogger,
    bodyLimit: deps.config.http.maxBodyBytes,
    trustProxy: deps.config.http.trustProxy,
    // A request whose head and body have not arrived in time is closed (a body trickled a byte at
    // a time would otherwise hold a connection open for minutes, also after a 401). Node checks
    // the deadline only every `connectionsCheckingInterval` (30 s by default), so often enough here.
    // An idle keep-alive connection stays open as long as fastify keeps it by default (72 s), not
    // Node's 5 s: a client or proxy reusing a connection the server is closing at that moment gets
    // "socket hang up" (under telegram-load, one webhook delivery in a thousand).
    serverFactory: (handler, options) => {
      const server = createServer(
        { requestTimeout: deps.config.http.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, deps.config.http.requestTimeoutMs / 2) },
        handler,
      );
      server.keepAliveTimeout = typeof options.keepAliveTimeout === 'number' ? options.keepAliveTimeout : 72_000;
      return server;
    },
    // zod's compilers from the start, so fastify never loads its defaults (ajv, fast-json-stringify:
    // ~1.5 MB of heap) for schemas that are all zod's; setValidatorCompiler below says so again.
    schemaController: { compilersFactory: zodCompilers },
    // Router-level refusals (bad URL encoding, over-long path parameters) get the one error shape too.
    frameworkErrors: (err, _req, reply) => {
      const { status, body, headers } = toErrorResponse(err, deps.log);
      void (reply as unknown as FastifyReply).status(status).headers(headers).send(body);
    },
  });
  app.setErrorHandler(errorHandler(deps.log));
  answerOversizedBodies(app, deps.config.http.maxBodyBytes, deps.config.http.requestTimeoutMs);
  guardJsonDepth(app);
  refuseNulText(app);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` } });
  });

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('caller', null);

  app.get('/health', async () => ({ status: 'ok' as const }));
  registerProbes(app, { readiness: deps.services.readiness, metrics: deps.metrics, metricsToken: deps.config.http.metricsToken });

  // A platform delivers one webhook per chat message: at info, a pair of access-log lines for
  // each is noise (and two log writes a turn). Their failures are logged at any level; with
  // LOG_LEVEL=debug or trace every delivery is.
  const platformLogLevel = deps.log.isLevelEnabled('debug') ? undefined : 'warn';
  for (const route of deps.rawRoutes ?? []) mountRaw(app, route, platformLogLevel);

  const ctx: HttpContext = { ...deps.services, config: deps.config, log: deps.log, scheduler: deps.scheduler };
  const cookies = await registerConsole(app, ctx, { dir: deps.consoleDir });
  await registerApi(app, ctx, cookies.resolveRequest, cookies.resolveViewer);
  return app;
}

/** OpenAPI + docs, then every v1 route module behind the API key hook (which also takes the console's session cookie). */
async function registerApi(app: FastifyInstance, ctx: HttpContext, consoleSession: CallerResolver, consoleViewer: CallerResolver): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'charbridge HTTP API',
        version: '1.0.0',
        description: 'Characters, chat (sync, async, stream), conversations and the updates feed. Errors are always {"error":{"code","message","details"}}.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // Long-polls end at once on shutdown; async turns finish writing to the feed before the store closes.
  app.addHook('preClose', async () => ctx.updates.wakeAll());
  app.addHook('onClose', async () => ctx.chat.drain());

  registerAvatarRoute(app, ctx, consoleViewer);
  await app.register(
    async (v1) => {
      v1.addHook('onRequest', apiKeyHook(ctx.access, consoleSession));
      const api = v1.withTypeProvider<ZodTypeProvider>();
      await api.register(characterRoutes(ctx));
      await api.register(chatRoutes(ctx));
      await api.register(conversationRoutes(ctx));
      await api.register(memoryRoutes(ctx));
      await api.register(updateRoutes(ctx));
      await api.register(apiKeyRoutes(ctx));
      await api.register(proactiveRoutes(ctx));
      await api.register(usageRoutes(ctx));
      await api.register(platformRoutes(ctx));
      await api.register(cardRoutes(ctx));
      await api.register(lorebookRoutes(ctx));
    },
    { prefix: '/api/v1' },
  );
  // The other chat APIs: thin route modules over the same services, keys and tenants.
  await registerDialects(app, ctx);
}

/** Serve a node-style handler (telegraf's webhookCallback, Bolt's receiver) with the raw body. */
function mountRaw(app: FastifyInstance, route: RawHttpRoute, logLevel: 'warn' | undefined): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.route({
      method: route.method,
      url: route.path,
      ...(logLevel ? { logLevel } : {}),
      handler: async (req, reply) => {
        reply.hijack();
        const raw = req.raw as Parameters<RawHttpRoute['handle']>[0];
        raw.rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        try {
          await route.handle(raw, reply.raw);
        } catch (err) {
          // Hijacked: fastify no longer answers for us, and an open request would hold close() forever.
          req.log.error({ err, path: route.path }, 'platform route failed');
          if (!reply.raw.headersSent) reply.raw.writeHead(500);
          if (!reply.raw.writableEnded) reply.raw.end();
        }
      },
    });
  });
}
