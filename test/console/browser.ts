import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { build } from 'vite';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { systemClock } from '../../src/core/clock.js';
import { buildApp } from '../../src/http/app.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { ADMIN_KEY, servicesFor } from '../http/helpers.js';
import { createTelegramAdapter, type TelegramAdapter } from '../../adapters/telegram/index.js';
import { platformStatus } from '../../src/services/index.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import { SCALED_TUNING } from '../adapters/telegram/world.js';

/** Debian's Chromium; CHROMIUM_PATH points elsewhere. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);
/** With CHARBRIDGE_REQUIRE_SERVICES=1 a missing browser fails the suite instead of skipping it. */
export const browserRequired = process.env.CHARBRIDGE_REQUIRE_SERVICES === '1';
export const SCREENSHOTS = join(process.cwd(), 'test-results', 'console');

/** Build the console with Vite, as `npm run build` does, into a private folder. */
export async function buildConsole(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'charbridge-console-build-'));
  await build({ configFile: join(process.cwd(), 'console', 'vite.config.ts'), logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  return outDir;
}

export interface ConsoleServer extends Harness {
  app: FastifyInstance;
  url: string;
  /** The fake Bot API a real Telegram adapter polls, so the platforms page has a platform to show. */
  telegram: FakeTelegram;
  close(): Promise<void>;
}

/**
 * The real app over the real engine and the fake OpenAI server, listening on 127.0.0.1 port 0,
 * serving `consoleDir`, with a real Telegram adapter polling the fake Bot API; `env` adds settings.
 */
export async function startConsoleServer(consoleDir: string, env: Record<string, string> = {}): Promise<ConsoleServer> {
  // The browser's own clock is real, so the server's is too (usage ranges, session expiry).
  const h = await startHarness({ maxRetries: 0, clock: systemClock });
  const telegram = await startFakeTelegram();
  const adapter: TelegramAdapter = createTelegramAdapter(
    { token: telegram.token, apiRoot: telegram.apiRoot },
    { handler: h.engine, log: h.log, commands: h.engine.menu, tuning: SCALED_TUNING },
  );
  const config = loadConfig({
    DATABASE_URL: ':memory:',
    LOG_LEVEL: 'silent',
    ADMIN_API_KEY: ADMIN_KEY,
    RATE_LIMIT_API_KEY_PER_MIN: '1000',
    PORT: '0',
    HOST: '127.0.0.1',
    TELEGRAM_BOT_TOKEN: telegram.token,
    ...env,
  });
  const services = servicesFor(h, config, { platformStatus: platformStatus(config, h.store, [adapter]) });
  const app = await buildApp({ config, log: h.log, services, consoleDir });
  await app.listen({ port: 0, host: '127.0.0.1' });
  await adapter.start();
  const { port } = app.server.address() as AddressInfo;
  return {
    ...h,
    app,
    telegram,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await adapter.stop();
      await app.close();
      await h.close();
      await telegram.close();
    },
  };
}

/**
 * Headless Chromium with a fresh profile, without the background traffic (updates, sync, field
 * trials) that a closed network only refuses.
 */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'charbridge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
      // Nothing but our loopback server resolves, so no page can reach another host.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
    viewport: { width: 1280, height: 860 },
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/*
 * What a test asks the page itself. These run in the browser, so they are written as
 * expressions: the test code is compiled without the DOM's types.
 */

/** The id of the focused element. */
export const focusedId = (page: Page) => page.evaluate<string>('document.activeElement ? document.activeElement.id : ""');

/**
 * Drop a file onto `selector` as a person dragging it from their desktop would: dragenter,
 * dragover and drop events carrying a DataTransfer that holds the file.
 */
export async function dropFile(page: Page, selector: string, file: { name: string; type: string; bytes: Buffer }): Promise<void> {
  const transfer = await page.evaluateHandle(`(() => {
    const bytes = Uint8Array.from(atob(${JSON.stringify(file.bytes.toString('base64'))}), (c) => c.charCodeAt(0));
    const t = new DataTransfer();
    t.items.add(new File([bytes], ${JSON.stringify(file.name)}, { type: ${JSON.stringify(file.type)} }));
    return t;
  })()`);
  for (const type of ['dragenter', 'dragover', 'drop']) await page.dispatchEvent(selector, type, { dataTransfer: transfer });
}

/** Whether the <img> has loaded a picture (its natural width is not 0). */
export const imageLoaded = (img: Locator) => img.evaluate((el: { complete: boolean; naturalWidth: number }) => el.complete && el.naturalWidth > 0);

/** The cookies page scripts can read (an HttpOnly cookie is not among them). */
export const scriptCookies = (page: Page) => page.evaluate<string>('document.cookie');

/** How far the page is wider than the window, in CSS pixels (0 or less: no sideways scrolling). */
export const horizontalOverflow = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');

/** The status of a GET the page makes with its own cookies. */
export const pageFetchStatus = (page: Page, path: string) => page.evaluate<number>(`fetch(${JSON.stringify(path)}).then((r) => r.status)`);

/** Start recording each text the newest `selector` element shows, to see a reply grow as it streams. */
export const recordTexts = (page: Page, selector: string) =>
  page.evaluate(`(() => {
    const seen = (window.__seen = []);
    new MutationObserver(() => {
      const all = document.querySelectorAll(${JSON.stringify(selector)});
      const text = all.length ? all[all.length - 1].textContent : '';
      if (text && seen[seen.length - 1] !== text) seen.push(text);
    }).observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true });
  })()`);

/** What `recordTexts` saw, in order. */
export const recordedTexts = (page: Page) => page.evaluate<string[]>('window.__seen || []');
