/** Per-key request limits on every route and API, and a fair share of the model for every key. */
import { afterEach, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from './helpers.js';

let h: ApiHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('per-key request limit', () => {
  it('counts every authenticated request, on every route and in every API, answering in that API\'s envelope', async () => {
    h = await startApi({ env: { RATE_LIMIT_API_KEY_PER_MIN: '5' } });
    const k = await h.newKey();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await h.call('GET', '/api/v1/characters', { key: k.key })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const v1 = await h.call('GET', '/api/v1/conversations', { key: k.key });
    expect(v1.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(Number(v1.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const userGroup = await h.call('GET', '/api/conversations', { key: k.key });
    expect(userGroup.statusCode).toBe(429);
    expect(userGroup.json()).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });
    const agent = await h.call('POST', '/v1/api/chat/aria', { key: k.key, body: { message: 'hi' } });
    expect(agent.statusCode).toBe(429);
    expect(agent.json()).toMatchObject({ data: null, error: { name: 'RateLimitError' } });
    // Another key has its own budget; the admin (the operator) is not limited.
    expect((await h.call('GET', '/api/v1/characters', { key: (await h.newKey()).key })).statusCode).toBe(200);
    for (let i = 0; i < 8; i++) expect((await h.call('GET', '/api/v1/characters')).statusCode).toBe(200);
  });
});

describe('model slots', () => {
  it("one key's burst does not make another key wait behind all of it", async () => {
    h = await startApi({ concurrency: 2 });
    const releases: Array<() => void> = [];
    let holding = true;
    h.fake.respondWith(({ messages }) => {
      const text = `re: ${String(messages.at(-1)?.content)}`;
      return holding ? new Promise((r) => releases.push(() => r(text))) : text;
    });
    const a = await h.newKey({ name: 'busy' });
    const b = await h.newKey({ name: 'quiet' });
    const burst = Array.from({ length: 6 }, (_, i) => h!.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: `a${i}` } }));
    await expect.poll(() => h!.engine.stats().modelQueued, { timeout: 10_000 }).toBe(4);
    const single = h.call('POST', '/api/v1/chat', { key: b.key, body: { characterId: 'aria', message: 'b0' } });
    await expect.poll(() => h!.engine.stats().modelQueued, { timeout: 10_000 }).toBe(5);
    await expect.poll(() => releases.length, { timeout: 10_000 }).toBe(2); // the two running calls reached the model
    // Free the two slots one by one: the first goes to the burst, the next to the other key.
    for (let freed = 0; freed < 2; freed++) {
      const before = h.fake.requests.length;
      releases.shift()!();
      await expect.poll(() => h!.fake.requests.length, { timeout: 10_000 }).toBe(before + 1);
    }
    const lastUserLine = (i: number) => String((h!.fake.requests[i]!.body.messages as Array<{ content: unknown }>).at(-1)?.content);
    expect(lastUserLine(3)).toBe('b0');
    // The rest may answer at once.
    holding = false;
    for (const release of releases.splice(0)) release();
    expect((await single).statusCode).toBe(200);
    expect((await Promise.all(burst)).map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
  });
});
