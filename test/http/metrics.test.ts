/**
 * `/metrics` end to end: the real runtime with a Telegram adapter polling the fake Bot API and
 * the fake OpenAI server, a few turns of every kind, then the Prometheus text parsed and read.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelegramAdapter } from '../../adapters/telegram/index.js';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/harness.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import { DM, SCALED_LIMITS, SCALED_TUNING, waitFor } from '../adapters/telegram/world.js';

const ADMIN = 'admin-key-0123456789abcdef';
const TOKEN = 'metrics-token-0123456789';

interface Sample { name: string; labels: Record<string, string>; value: number }

/** Prometheus' text format → samples and `# TYPE`s (enough of the format for these checks). */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

let openai: FakeOpenAI;
let telegram: FakeTelegram;
let receiver: Server;
let receiverUrl: string;
let hooks = 0;
let rt: Runtime;

beforeAll(async () => {
  openai = await startFakeOpenAI();
  telegram = await startFakeTelegram({ limits: SCALED_LIMITS });
  receiver = createServer((req, res) => {
    hooks++;
    req.resume().on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', ADMIN_API_KEY: ADMIN, METRICS_TOKEN: TOKEN, SSRF_ALLOW_HOSTS: '127.0.0.1',
    OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model', MODEL_MAX_RETRIES: '0',
    TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
  });
  rt = await startRuntime(config, {
    log: testLogger(),
    adapters: ({ config: c, engine, log }) => [createTelegramAdapter(c.telegram!, { handler: engine, log, commands: engine.menu, tuning: SCALED_TUNING })],
  });
  expect(await rt.ready).toBe(true);
});

afterAll(async () => {
  await rt?.shutdown('test end');
  await openai?.close();
  await telegram?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

async function api(method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(`${rt.url}${path}`, { method, headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}

describe('GET /metrics', () => {
  it('counts turns, tokens, credits, model errors, 429s, the outbound line and deliveries', async () => {
    const tenant = await api('POST', '/api/v1/api-keys', ADMIN, { name: 'tenant', credits: 10, webhookUrl: receiverUrl, webhookSecret: 'whsec-0123456789abcdef' });
    const key = tenant.body.key as string;
    const ok = await api('POST', '/api/v1/chat', key, { characterId: 'aria', message: 'hello over http' });
    expect(ok.status).toBe(200);
    const broke = await api('POST', '/api/v1/api-keys', ADMIN, { name: 'broke', credits: 0 });
    expect((await api('POST', '/api/v1/chat', broke.body.key, { characterId: 'aria', message: 'no credits' })).status).toBe(402);
    openai.failNext(1, { status: 500 });
    expect((await api('POST', '/api/v1/chat', key, { characterId: 'aria', message: 'and again', sessionId: ok.body.sessionId })).status).toBe(502);

    telegram.rateLimitNext(1); // the reply's first send is refused once and waited out
    telegram.userMessage({ ...DM, text: 'hello over telegram' });
    telegram.userMessage({ ...DM, text: '/help' });
    await waitFor(() => telegram.botMessages(42).length === 2 && telegram.botMessages(42)[0]!.text === 'Echo: hello over telegram');

    expect((await api('POST', `/api/v1/conversations/${ok.body.sessionId}/proactive/test`, key)).status).toBe(200);
    await rt.webhooks.processDue();
    expect(hooks).toBe(1);
    await rt.adapters[0]!.settled();

    expect((await fetch(`${rt.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${rt.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const res = await fetch(`${rt.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(await res.text());
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    expect(types.get('charbridge_turns_total')).toBe('counter');
    expect(types.get('charbridge_turn_duration_seconds')).toBe('histogram');
    expect(value('charbridge_turns_total', { platform: 'api', outcome: 'replied' })).toBe(2); // the chat and the proactive message
    expect(value('charbridge_turns_total', { platform: 'api', outcome: 'model_error' })).toBe(1);
    expect(value('charbridge_turns_total', { platform: 'api', outcome: 'refused' })).toBe(1);
    expect(value('charbridge_turns_total', { platform: 'telegram', outcome: 'replied' })).toBe(1);
    expect(value('charbridge_turns_total', { platform: 'telegram', outcome: 'skipped' })).toBe(1); // /help never reaches the model
    expect(value('charbridge_turn_duration_seconds_count', { platform: 'api' })).toBe(3);
    expect(value('charbridge_turn_duration_seconds_count', { platform: 'telegram' })).toBe(1);
    expect(value('charbridge_model_duration_seconds_count', { model: 'fake-model' })).toBe(4);
    expect(value('charbridge_model_first_token_seconds_count', { model: 'fake-model' })).toBe(3);
    expect(value('charbridge_model_errors_total', { kind: 'server_error' })).toBe(1);
    expect(value('charbridge_tokens_total', { model: 'fake-model', type: 'prompt' })).toBeGreaterThan(0);
    expect(value('charbridge_tokens_total', { model: 'fake-model', type: 'completion' })).toBeGreaterThan(0);
    expect(value('charbridge_credits_total', { platform: 'api' })).toBe(2); // the chat and the proactive test send, both paid; the failure was released
    expect(value('charbridge_platform_connected', { platform: 'telegram' })).toBe(1);
    expect(telegram.tooManyRequests).toBeGreaterThanOrEqual(1);
    expect(value('charbridge_platform_rate_limited_total', { platform: 'telegram' })).toBe(telegram.tooManyRequests);
    expect(value('charbridge_platform_sends_total', { platform: 'telegram' })).toBeGreaterThanOrEqual(2);
    expect(value('charbridge_outbound_started_total', { platform: 'telegram' })).toBeGreaterThanOrEqual(2);
    expect(value('charbridge_outbound_wait_seconds_total', { platform: 'telegram' })).toBeGreaterThanOrEqual(0);
    expect(value('charbridge_outbound_queue_depth', { platform: 'telegram' })).toBe(0);
    expect(value('charbridge_inbox_backlog')).toBe(0);
    expect(value('charbridge_proactive_deliveries_total', { platform: 'api', outcome: 'delivered' })).toBe(1);
    expect(value('charbridge_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(value('nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0); // sampled every 100 ms, still sampled
  });
});
