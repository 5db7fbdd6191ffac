import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

/** Where `npm run build` puts the console (`dist/console`), from this file in `src/` (tsx) or `dist/src/` (built). */
export function defaultConsoleDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = join(here, '..', '..', '..');
  return here.includes(join('dist', 'src')) ? join(root, 'console') : join(root, 'dist', 'console');
}

/** Vite names every file under assets/ by its content hash, so those never change and may be cached for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The console's own pages may load only their own scripts and styles and talk only to this
 * server; avatars are any https image. No framing, no plugins, no inline script.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>charbridge console</title>
<main><h1>The console has not been built</h1><p>Run <code>npm run build</code> (or <code>npm start</code>, which builds first) and restart the server.</p></main></html>`;

/**
 * Serve the built single-page console under /console/: hashed assets cached for good, every
 * other path answered with index.html (no-cache) so client-side routes survive a reload.
 * Without a build, /console explains how to make one instead of answering 404.
 */
export async function serveConsole(app: FastifyInstance, dir: string): Promise<void> {
  if (!existsSync(join(dir, 'index.html'))) {
    const notBuilt = async (_req: unknown, reply: FastifyReply) => reply.status(503).type('text/html; charset=utf-8').headers(SECURITY_HEADERS).send(NOT_BUILT);
    app.get('/console', notBuilt);
    app.get('/console/*', notBuilt);
    return;
  }
  await app.register(
    async (scope) => {
      scope.addHook('onSend', async (_req, reply, payload) => {
        void reply.headers(SECURITY_HEADERS);
        return payload;
      });
      await scope.register(fastifyStatic, {
        root: dir,
        prefix: '/',
        index: false,
        cacheControl: false,
        setHeaders: (reply) => {
          const url = (reply as FastifyReply).request.url;
          void (reply as FastifyReply).header('cache-control', url.startsWith('/console/assets/') ? IMMUTABLE : 'no-cache');
        },
      });
      const page = async (_req: unknown, reply: FastifyReply) => reply.header('cache-control', 'no-cache').sendFile('index.html');
      scope.get('/', page);
      scope.setNotFoundHandler(async (req, reply) => {
        const path = req.url.split('?')[0] ?? '';
        // Client-side routes have no file extension; a missing asset is a real 404.
        if ((req.method === 'GET' || req.method === 'HEAD') && !/\.[a-z0-9]+$/i.test(path)) return page(req, reply);
        return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${path}` } });
      });
    },
    { prefix: '/console' },
  );
}
