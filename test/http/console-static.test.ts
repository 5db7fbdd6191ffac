import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { servicesFor, startApi, type ApiHarness } from './helpers.js';

let h: ApiHarness;
let dir: string;
let app: FastifyInstance;

beforeAll(async () => {
  h = await startApi();
  dir = mkdtempSync(join(tmpdir(), 'charbridge-console-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title><script type="module" src="/console/assets/index-AbC123.js"></script>');
  writeFileSync(join(dir, 'assets', 'index-AbC123.js'), 'console.log("hi")');
  writeFileSync(join(dir, 'assets', 'index-AbC123.css'), 'body{}');
  app = await buildApp({ config: h.config, log: h.log, services: servicesFor(h, h.config), consoleDir: dir });
});
afterAll(async () => {
  await app.close();
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the built console under /console/', () => {
  it('serves the page, uncached, with a strict content security policy', async () => {
    for (const url of ['/console', '/console/', '/console/characters', '/console/conversations/conv_1?x=1']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/^text\/html/);
      expect(res.headers['cache-control'], url).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.body).toContain('<title>console</title>');
    }
  });

  it('serves hashed assets with their content type, cached for good', async () => {
    const js = await app.inject({ method: 'GET', url: '/console/assets/index-AbC123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const css = await app.inject({ method: 'GET', url: '/console/assets/index-AbC123.css' });
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    const missing = await app.inject({ method: 'GET', url: '/console/assets/gone-123.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('NOT_FOUND');
  });

  it('says how to build the console when it is not built', async () => {
    const unbuilt = await buildApp({ config: h.config, log: h.log, services: servicesFor(h, h.config), consoleDir: join(dir, 'not-built') });
    try {
      const res = await unbuilt.inject({ method: 'GET', url: '/console/' });
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain('npm run build');
    } finally {
      await unbuilt.close();
    }
  });
});
