/**
 * The model client's own HTTP transport (node-fetch over keep-alive agents, not Node's built-in
 * fetch) under the real openai SDK against the fake server: deltas reach the caller as the server
 * writes them, a stream cut midway or aborted is an error rather than a short reply, and one
 * connection serves call after call.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelUnavailableError } from '../../src/core/errors.js';
import { OpenAIModel, type ModelChunk } from '../../src/llm/index.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';

let fake: FakeOpenAI | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await fake?.close();
  fake = undefined;
});

const modelOf = (f: FakeOpenAI) => new OpenAIModel({ apiKey: f.apiKey, baseURL: f.baseURL, model: 'fake-model', timeoutMs: 30_000, maxRetries: 0 });

describe('the model transport', () => {
  it('sends what the SDK reads from the environment itself: an organization, a project, extra headers', async () => {
    // Not charbridge's settings, so start-up does not warn about them (unknown-variables.ts): they are not ignored.
    vi.stubEnv('OPENAI_ORG_ID', 'org-test');
    vi.stubEnv('OPENAI_PROJECT_ID', 'proj_test');
    vi.stubEnv('OPENAI_CUSTOM_HEADERS', 'HTTP-Referer: https://example.org\nX-Title: charbridge');
    fake = await startFakeOpenAI();
    fake.respondWith('hello');
    for await (const c of modelOf(fake).stream({ messages: [{ role: 'user', content: 'go' }] })) void c;
    const h = fake.requests[0]!.headers;
    expect([h['openai-organization'], h['openai-project'], h['http-referer'], h['x-title']]).toEqual(['org-test', 'proj_test', 'https://example.org', 'charbridge']);
  });

  it('hands each delta over as it arrives, and an abort mid-stream ends the call with an error', async () => {
    fake = await startFakeOpenAI();
    fake.respondWith('first second third');
    // The second delta would come after ten minutes: the first can only be seen if nothing buffers.
    fake.setChunkDelay(600_000);
    const abort = new AbortController();
    const seen: string[] = [];
    const run = (async () => {
      for await (const c of modelOf(fake!).stream({ messages: [{ role: 'user', content: 'go' }], signal: abort.signal })) {
        if (c.type === 'delta') {
          seen.push(c.text);
          abort.abort();
        }
      }
    })();
    await expect(run).rejects.toBeInstanceOf(ModelUnavailableError);
    expect(seen).toEqual(['first ']);
  });

  it('turns a stream cut midway into ModelUnavailableError after the deltas that came', async () => {
    fake = await startFakeOpenAI();
    fake.respondWith('a b c d e');
    fake.breakStreamAfter(2);
    const seen: ModelChunk[] = [];
    const run = (async () => {
      for await (const c of modelOf(fake!).stream({ messages: [{ role: 'user', content: 'x' }] })) seen.push(c);
    })();
    await expect(run).rejects.toThrow(ModelUnavailableError);
    expect(seen).toEqual([{ type: 'delta', text: 'a ' }, { type: 'delta', text: 'b ' }]);
  });

  it('streams whole replies with usage, call after call, over a kept-alive connection', async () => {
    fake = await startFakeOpenAI();
    fake.respondWith('one two');
    const model = modelOf(fake);
    for (let i = 0; i < 3; i++) {
      const chunks: ModelChunk[] = [];
      for await (const c of model.stream({ messages: [{ role: 'user', content: `turn ${i}` }] })) chunks.push(c);
      expect(chunks.filter((c) => c.type === 'delta').map((c) => (c as { text: string }).text).join('')).toBe('one two');
      expect(chunks.at(-1)).toMatchObject({ type: 'usage' });
    }
    expect(fake.requests.map((r) => r.headers.connection)).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
  });
});
