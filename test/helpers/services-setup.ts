import type { TestProject } from 'vitest/node';
import { createMigratedTemplate, dropDatabase, dropLeftovers, findOrStartPostgres, INSTALL_HINT } from './pg-server.js';
import { findOrStartRedis } from './redis-server.js';
import type { TestServices } from './services.js';

/**
 * vitest globalSetup: one PostgreSQL and one Redis server for the whole run, and a migrated
 * template database that each test file copies. Without servers, the tests that need them are
 * skipped with one message; with CHARBRIDGE_REQUIRE_SERVICES=1 (CI) the run fails instead.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [pg, redis] = await Promise.all([findOrStartPostgres(), findOrStartRedis()]);
  const missing = [...('missing' in pg ? [`PostgreSQL: ${pg.missing}`] : []), ...('missing' in redis ? [`Redis: ${redis.missing}`] : [])];
  if (missing.length) {
    const message = `${missing.join('; ')}. To run the tests that need them, ${INSTALL_HINT}.`;
    if (process.env.CHARBRIDGE_REQUIRE_SERVICES === '1') {
      await Promise.all([!('missing' in pg) && pg.stop(), !('missing' in redis) && redis.stop()]);
      throw new Error(`CHARBRIDGE_REQUIRE_SERVICES=1 but ${message}`);
    }
    console.warn(`\n[charbridge] Skipping PostgreSQL/Redis tests. ${message}\n`);
  }
  let template: string | null = null;
  if (!('missing' in pg)) {
    await dropLeftovers(pg.adminUrl);
    template = await createMigratedTemplate(pg.adminUrl, process.pid);
  }
  const services: TestServices = {
    runPid: process.pid,
    postgres: 'missing' in pg || !template ? null : { adminUrl: pg.adminUrl, template },
    redis: 'missing' in redis ? null : { url: redis.url },
    missing: missing.length ? missing.join('; ') : null,
  };
  project.provide('services', services);
  return async () => {
    if (!('missing' in pg)) {
      if (template) await dropDatabase(pg.adminUrl, template).catch(() => {});
      await pg.stop();
    }
    if (!('missing' in redis)) await redis.stop();
  };
}
