import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web console: Preact pages built into dist/console, which the server serves at /console/.
 * `npm run dev:console` serves it with hot reload and forwards API calls to `npm run dev` on :3000.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/console/session': 'http://127.0.0.1:3000',
    },
  },
});
