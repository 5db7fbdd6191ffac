import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Readiness } from '../services/index.js';

/** What `/metrics` serves: Prometheus' text and its content type (src/metrics builds it). */
export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The operator's probes beside `/health` (alive): `/ready`, 200 only when the database, its
 * migrations and every configured platform are ready, else 503 naming what is not; and
 * `/metrics` for Prometheus, behind a bearer token when METRICS_TOKEN is set. Outside `/api/v1`
 * and its keys, because probes and scrapers are not tenants.
 */
export function registerProbes(app: FastifyInstance, deps: { readiness: Readiness; metrics?: MetricsEndpoint | undefined; metricsToken?: string | undefined }): void {
  app.get('/ready', async (_req, reply) => {
    const { ready, checks } = await deps.readiness.check();
    if (ready) return { status: 'ready', checks };
    const notReady = checks.filter((c) => !c.ready).map((c) => `${c.name}: ${c.reason ?? 'not ready'}`);
    return reply.status(503).send({ status: 'not_ready', message: `Not ready — ${notReady.join('; ')}`, checks });
  });

  const { metrics, metricsToken } = deps;
  if (!metrics) return;
  app.get('/metrics', async (req, reply) => {
    if (metricsToken && !tokenMatches(req.headers.authorization, metricsToken)) {
      return reply
        .status(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .send({ error: { code: 'UNAUTHORIZED', message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>' } });
    }
    return reply.type(metrics.contentType).send(await metrics.render());
  });
}
