import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeModel, type ModelCallEvent } from '../../src/llm/observed.js';
import { OpenAIModel, type ModelClient } from '../../src/llm/index.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

function observed(baseURL = fake.baseURL): { model: ModelClient; calls: ModelCallEvent[] } {
  const calls: ModelCallEvent[] = [];
  const real = new OpenAIModel({ apiKey: fake.apiKey, baseURL, model: 'fake-model', timeoutMs: 5000, maxRetries: 0, breakerThreshold: 100 });
  return { model: observeModel(real, (e) => calls.push(e)), calls };
}

async function drain(model: ModelClient): Promise<string> {
  let text = '';
  for await (const c of model.stream({ messages: [{ role: 'user', content: 'hi' }] })) if (c.type === 'delta') text += c.text;
  return text;
}

describe('an observed model', () => {
  it('reports each call with its model, and the kind of each failure', async () => {
    const { model, calls } = observed();
    expect(model.label).toBe('openai:fake-model');
    expect(await drain(model)).toBe('Echo: hi');
    fake.failNext(1, { status: 429 });
    await expect(drain(model)).rejects.toThrow(/429/);
    fake.failNext(1, { status: 503 });
    await expect(drain(model)).rejects.toThrow(/503/);
    fake.respondWith('   ');
    await drain(model);
    expect(calls.map((c) => [c.model, c.error])).toEqual([
      ['fake-model', null],
      ['fake-model', 'rate_limited'],
      ['fake-model', 'server_error'],
      ['fake-model', 'empty'],
    ]);
    expect(calls[0]!.firstTokenMs).not.toBeNull();
    expect(calls[1]!.firstTokenMs).toBeNull();
  });

  it('reports a server that does not answer as unreachable', async () => {
    const closed = await startFakeOpenAI();
    const url = closed.baseURL;
    await closed.close();
    const { model, calls } = observed(url);
    await expect(drain(model)).rejects.toThrow();
    expect(calls.map((c) => c.error)).toEqual(['unreachable']);
  });
});
