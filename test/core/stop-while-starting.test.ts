/**
 * A stop signal that arrives while `npm start` is still starting (a deploy replacing an instance
 * that is slow to connect to a platform). HTTP already listens then, and adapters are starting,
 * so turns may already be accepted: the process must finish start-up and shut down gracefully,
 * exiting 0, not die of the signal. charbridge runs as a process of its own; its Slack adapter's
 * `auth.test` is held at a proxy in front of the fake Slack until the signal has been sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../fakes/slack.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { launchInstance, type LaunchedInstance } from '../cluster/child-instance.js';
import { waitFor } from '../adapters/telegram/world.js';

let slack: FakeSlack | undefined;
let openai: FakeOpenAI | undefined;
let holding: Server | undefined;
let child: LaunchedInstance | undefined;
let dir: string | undefined;
afterEach(async () => {
  await child?.kill();
  holding?.closeAllConnections();
  await new Promise<void>((r) => (holding ? holding.close(() => r()) : r()));
  await slack?.close();
  await openai?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = slack = openai = holding = dir = undefined;
});

/** Forwards Slack Web API calls to `upstream`, holding `auth.test` until `release()`. */
async function holdAuthTest(upstream: string): Promise<{ url: string; held: () => boolean; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let held = false;
  holding = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const method = req.url!.split('/').pop()!;
      if (method === 'auth.test') {
        held = true;
        await released;
      }
      const r = await fetch(`${upstream}${method}`, { method: req.method!, headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded', authorization: req.headers.authorization ?? '' }, body: Buffer.concat(chunks) });
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await r.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => holding!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(holding.address() as AddressInfo).port}/api/`, held: () => held, release };
}

it('a SIGTERM during start-up waits for start-up to finish, then shuts down gracefully', async () => {
  slack = await startFakeSlack();
  openai = await startFakeOpenAI();
  const proxy = await holdAuthTest(slack.apiUrl);
  dir = mkdtempSync(join(tmpdir(), 'charbridge-stop-starting-'));
  child = await launchInstance({
    DATABASE_URL: join(dir, 'charbridge.db'),
    LOG_LEVEL: 'info',
    OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model',
    SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: proxy.url, SLACK_SIGNING_SECRET: slack.signingSecret,
  });
  // HTTP listens before the adapters start: it answers while auth.test is held.
  await waitFor(() => proxy.held(), 30_000, () => `the Slack adapter to call auth.test\n${child!.output().slice(-2000)}`);
  expect((await fetch(`${child.url}/health`)).status).toBe(200);

  child.process.kill('SIGTERM');
  await waitFor(() => child!.output().includes('SIGTERM received while starting'), 10_000, () => child!.output().slice(-2000));
  expect(child.process.exitCode).toBeNull(); // still starting: the signal did not kill it
  proxy.release();
  await child.closed; // exited, and what it wrote read to the end

  expect({ code: child.process.exitCode, signal: child.process.signalCode }).toEqual({ code: 0, signal: null });
  expect(child.output()).toContain('"reason":"SIGTERM"');
}, 60_000);
