import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { echoResponder, startFakeOpenAI, type FakeOpenAI } from './openai.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fake OpenAI server with the real openai SDK', () => {
  let fake: FakeOpenAI;
  const client = (maxRetries = 0, apiKey = 'test-key') => new OpenAI({ apiKey, baseURL: fake.baseURL, maxRetries });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(async () => {
    await fake.close();
  });
  afterEach(() => {
    fake.requests.length = 0;
    fake.respondWith(echoResponder);
    fake.slowFirstToken(0);
    fake.breakStreamAfter(null);
    fake.setChunkDelay(0);
  });

  it('answers a non-stream completion with usage and records the request', async () => {
    const res = await client().chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'system', content: 'be nice' }, { role: 'user', content: 'hello there' }],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe('gpt-test');
    expect(res.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'Echo: hello there' });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage?.completion_tokens).toBe(Math.ceil('Echo: hello there'.length / 4));
    expect(res.usage?.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ stream: false, status: 200 });
    expect(fake.requests[0]?.body.messages[0]).toEqual({ role: 'system', content: 'be nice' });
    expect(fake.requests[0]?.headers.authorization).toBe('Bearer test-key');
  });

  it('lists models', async () => {
    const models = await client().models.list();
    expect(models.data.map((m) => m.id)).toEqual(['fake-model']);
  });

  it('streams several deltas, then a usage chunk when include_usage is set', async () => {
    fake.respondWith('one two three four');
    const stream = await client().chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    const contents = chunks.map((c) => c.choices[0]?.delta.content).filter((c): c is string => !!c);
    expect(contents).toEqual(['one ', 'two ', 'three ', 'four']);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish?.choices[0]).toMatchObject({ finish_reason: 'stop', delta: {} });
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBe(Math.ceil('one two three four'.length / 4));
    expect(fake.requests[0]?.stream).toBe(true);
  });

  it('streams a reply at the pace its responder asks for, the others at the server’s', async () => {
    fake.respondWith(({ messages }) => (messages.at(-1)?.content === 'slow' ? { text: 'a b c d', chunkDelayMs: 40 } : 'a b c d'));
    const gaps = async (content: string) => {
      const stream = await client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], stream: true });
      const at: number[] = [];
      for await (const c of stream) if (c.choices[0]?.delta.content) at.push(Date.now());
      return at.at(-1)! - at[0]!;
    };
    // Three pauses of 40 ms between four words (a timer fires no earlier than asked; 1 ms for rounding).
    expect(await gaps('slow')).toBeGreaterThanOrEqual(3 * 40 - 1);
    // The server's own pace for the others: a chunk delay set there holds them, not the responder's.
    fake.setChunkDelay(50);
    expect(await gaps('fast')).toBeGreaterThanOrEqual(3 * 50 - 1);
  });

  it('omits the usage chunk without include_usage', async () => {
    const stream = await client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x y' }], stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.choices.length === 1 && !c.usage)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Echo: x y');
  });

  it('rejects a wrong key with AuthenticationError', async () => {
    const err = await client(0, 'wrong').chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    expect(fake.requests[0]?.status).toBe(401);
  });

  it('lets the SDK retry 429 with retry-after-ms and succeed', async () => {
    fake.failNext(2, { status: 429, retryAfterMs: 10 });
    const res = await client(2).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'retry me' }] });
    expect(res.choices[0]?.message.content).toBe('Echo: retry me');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(fake.requests.every((r) => r.body.messages[0].content === 'retry me')).toBe(true);
  });

  it('throws the last 429 once retries are exhausted', async () => {
    fake.failNext(2, { status: 429, retryAfterMs: 5 });
    const err = await client(1).chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(fake.requests).toHaveLength(2);
  });

  it('throws InternalServerError on 500 with maxRetries 0, and retries 503 when allowed', async () => {
    fake.failNext(1, { status: 500 });
    const err = await client(0).chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(500);

    fake.failNext(1, { status: 503, retryAfterMs: 5 });
    const ok = await client(1).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'again' }] });
    expect(ok.choices[0]?.message.content).toBe('Echo: again');
    expect(fake.requests.map((r) => r.status)).toEqual([500, 503, 200]);
  });

  it('breakStreamAfter makes the SDK iteration throw a raw undici TypeError("terminated")', async () => {
    fake.respondWith('a b c d e');
    fake.breakStreamAfter(2);
    const stream = await client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
    const contents: string[] = [];
    const err = await (async () => {
      for await (const c of stream) contents.push(c.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    // Not an OpenAI.APIConnectionError: the socket error escapes the SDK unwrapped.
    expect(err).toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(OpenAI.OpenAIError);
    expect((err as Error).message).toBe('terminated');
    expect(contents).toEqual(['', 'a ', 'b ']);
  });

  it('slowFirstToken holds the response until after the request has been recorded', async () => {
    fake.slowFirstToken(150);
    const events: string[] = [];
    const streamed = (async () => {
      const stream = await client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'slow' }], stream: true });
      for await (const c of stream) if (c.choices[0]?.delta.content) events.push(`token:${c.choices[0].delta.content}`);
    })();
    while (fake.requests.length === 0) await sleep(5);
    events.push('request-received');
    await streamed;
    expect(events).toEqual(['request-received', 'token:Echo: ', 'token:slow']);

    const plain = client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'plain' }] })
      .then((r) => events.push(`reply:${r.choices[0]?.message.content}`));
    while (fake.requests.length === 1) await sleep(5);
    events.push('second-request-received');
    await plain;
    expect(events.slice(3)).toEqual(['second-request-received', 'reply:Echo: plain']);
  });

  it('the default responder joins text parts and counts images', async () => {
    const own = await startFakeOpenAI({ apiKey: 'k2' });
    try {
      const c = new OpenAI({ apiKey: 'k2', baseURL: own.baseURL, maxRetries: 0 });
      const res = await c.chat.completions.create({
        model: 'vision',
        messages: [
          { role: 'user', content: 'earlier' },
          { role: 'assistant', content: 'ok' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
              { type: 'text', text: 'this?' },
              { type: 'image_url', image_url: { url: 'https://example.invalid/x.png' } },
            ],
          },
        ],
      });
      expect(res.choices[0]?.message.content).toBe('Echo: what is this? [images: 2]');
      expect(own.requests[0]?.body.messages[2].content[1].image_url.url).toBe('data:image/png;base64,AAAA');
    } finally {
      await own.close();
    }
  });

  it('survives a client aborting mid-stream; the SDK loop just ends', async () => {
    fake.respondWith('a b c d e f g h');
    fake.setChunkDelay(20);
    const ac = new AbortController();
    const stream = await client().chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true },
      { signal: ac.signal },
    );
    const seen: string[] = [];
    for await (const c of stream) {
      seen.push(c.choices[0]?.delta.content ?? '');
      if (seen.length === 3) ac.abort();
    }
    expect(seen).toEqual(['', 'a ', 'b ']);
    fake.setChunkDelay(0);
    fake.respondWith(echoResponder);
    const res = await client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'still alive' }] });
    expect(res.choices[0]?.message.content).toBe('Echo: still alive');
  });

  it('returns OpenAI-shaped 404 and 400 errors', async () => {
    const notFound = await fetch(`${fake.baseURL}/nope`, { headers: { authorization: 'Bearer test-key' } });
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as any).error.type).toBe('invalid_request_error');

    const bad = await fetch(`${fake.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-key', 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error).toMatchObject({ type: 'invalid_request_error', code: null });
    expect(fake.requests[0]).toMatchObject({ body: null, status: 400 });
  });

  it('close() returns promptly with a parked slow stream and keep-alive sockets open', async () => {
    const own = await startFakeOpenAI();
    const c = new OpenAI({ apiKey: own.apiKey, baseURL: own.baseURL, maxRetries: 0 });
    await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'warm' }] }); // keep-alive socket
    own.slowFirstToken(60_000);
    const pending = c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }).catch((e: unknown) => e);
    while (own.requests.length < 2) await sleep(5);
    const closed = await Promise.race([own.close().then(() => 'closed'), sleep(2000).then(() => 'hung')]);
    expect(closed).toBe('closed');
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});
