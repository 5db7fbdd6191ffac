/**
 * One instance on a SQLite file (no Redis), restarted after a crash: the real runtime with
 * `createPlatformAdapters`, as `npm start` runs it. The crashed run had accepted a message and
 * died before answering it; its row in the instances table still looks alive. The new run holds
 * the database's sole-instance lock, so it knows that run has stopped: it answers the message at
 * once (not after INSTANCE_DEAD_AFTER_MS) and before the chat's newer message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createPlatformAdapters } from '../../../src/platforms.js';
import { startRuntime, type Runtime } from '../../../src/runtime.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai.js';
import { startFakeTelegram, type FakeTelegram } from '../../fakes/telegram.js';
import { testLogger } from '../../helpers/harness.js';
import { DM, crashedRunOwing, waitFor } from './world.js';

let runtime: Runtime | undefined;
let openai: FakeOpenAI | undefined;
let fake: FakeTelegram | undefined;
let dir: string | undefined;
afterEach(async () => {
  await runtime?.shutdown('test end');
  await openai?.close();
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  runtime = openai = fake = dir = undefined;
});

describe('a single instance restarted after a crash', () => {
  it('answers what the crashed run had accepted at once, before the chat’s newer message', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cb-crash-restart-'));
    const dbPath = join(dir, 'charbridge.db');
    fake = await startFakeTelegram();
    openai = await startFakeOpenAI();
    const deadAfterMs = 60_000;

    // The crashed run: seen a moment ago, one message claimed (stored with its claim) and never answered.
    await crashedRunOwing(dbPath, 'first, before the crash', deadAfterMs);
    // The chat's next message waits at Telegram for the new run.
    fake.userMessage({ ...DM, text: 'second, after the restart' });

    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', DATABASE_URL: dbPath, LOG_LEVEL: 'silent',
      OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL,
      TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot,
      INSTANCE_DEAD_AFTER_MS: String(deadAfterMs),
    });
    runtime = await startRuntime(config, { log: testLogger(), adapters: createPlatformAdapters });
    // Well inside INSTANCE_DEAD_AFTER_MS: without the lock's proof the first message would wait a minute.
    await waitFor(() => fake!.botMessages(42).length === 2, 10_000, 'both replies');
    expect(fake.botMessages(42).map((m) => m.text)).toEqual(['Echo: first, before the crash', 'Echo: second, after the restart']);
    // Both marked answered once delivered (the mark follows the send).
    await expect.poll(() => runtime!.store.events.backlog()).toBe(0);
    expect(await runtime.store.instances.live(0)).not.toContain('crashed-run');
  });
});
