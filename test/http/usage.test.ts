import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { inbound, say } from '../helpers/harness.js';
import { errorOf, startApi, type ApiHarness } from './helpers.js';

const DAY = 86_400_000;
const clock = new ManualClock(Date.UTC(2026, 2, 10, 12));
let h: ApiHarness;
let a: { id: string; key: string };
let b: { id: string; key: string };

interface Row {
  group: string | null;
  label: string;
  turns: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  credits: number;
  modelErrors: number;
}

async function usage(key: string, qs: string): Promise<{ rows: Row[]; groupsLeftOut: number; totals: Omit<Row, 'group' | 'label'>; from: string; to: string }> {
  const res = await h.call('GET', `/api/v1/usage?${qs}`, { key });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const chat = (key: string, message: string, characterId = 'aria') => h.call('POST', '/api/v1/chat', { key, body: { characterId, message } });

beforeAll(async () => {
  h = await startApi({ clock });
  a = await h.newKey({ name: 'tenant-a', credits: 100 });
  b = await h.newKey({ name: 'tenant-b' });
  // Day 1 (2026-03-10): a talks to Aria twice; its third turn fails at the model.
  expect((await chat(a.key, 'one')).statusCode).toBe(200);
  expect((await chat(a.key, 'two')).statusCode).toBe(200);
  h.fake.failNext(1, { status: 500 });
  expect((await chat(a.key, 'three')).statusCode).toBe(502);
  // Day 2: a talks to Rook, b to Aria, and a Telegram user to the default character.
  clock.advance(DAY);
  expect((await chat(a.key, 'ahoy', 'captain-rook')).statusCode).toBe(200);
  expect((await chat(b.key, 'hi')).statusCode).toBe(200);
  expect((await say(h.engine, inbound({ text: 'from telegram' }))).reply).toBeDefined();
});
afterAll(() => h.close());

describe('GET /api/v1/usage', () => {
  it('shows a tenant only its own usage, with failed model turns counted and not charged', async () => {
    const byCharacter = await usage(a.key, 'groupBy=character&from=2026-03-01');
    expect(byCharacter.rows.map((r) => [r.label, r.turns, r.modelErrors, r.credits])).toEqual([
      ['Aria', 2, 1, 2],
      ['Captain Rook', 1, 0, 1],
    ]);
    expect(byCharacter.totals).toMatchObject({ turns: 3, modelErrors: 1, credits: 3 });
    expect(byCharacter.totals.promptTokens).toBeGreaterThan(0);
    expect(byCharacter.totals.totalTokens).toBe(byCharacter.totals.promptTokens + byCharacter.totals.completionTokens);

    const ofB = await usage(b.key, 'groupBy=character&from=2026-03-01');
    expect(ofB.rows.map((r) => [r.label, r.turns])).toEqual([['Aria', 1]]);
  });

  it('groups by UTC day, model and platform, and the admin sees platforms too', async () => {
    const days = await usage(a.key, 'groupBy=day&from=2026-03-01&to=2026-03-31');
    expect(days.rows.map((r) => [r.group, r.turns, r.modelErrors])).toEqual([
      ['2026-03-10', 2, 1],
      ['2026-03-11', 1, 0],
    ]);
    expect(days.to).toBe('2026-04-01T00:00:00.000Z');

    const models = await usage(a.key, 'groupBy=model&from=2026-03-01');
    expect(models.rows.map((r) => r.group)).toEqual(['fake-model']);

    const platforms = await usage('admin-key-for-tests-0123456789', 'groupBy=platform&from=2026-03-01');
    expect(Object.fromEntries(platforms.rows.map((r) => [r.group, r.turns]))).toEqual({ api: 4, telegram: 1 });
  });

  it('lists groups largest first up to `limit`, counting the rest in `groupsLeftOut` and the totals; days are never cut', async () => {
    const all = await usage('admin-key-for-tests-0123456789', 'groupBy=character&from=2026-03-01');
    expect(all.rows.map((r) => r.label)).toEqual(['Aria', 'Captain Rook']);
    expect(all).toMatchObject({ groupsLeftOut: 0 });
    const top = await usage('admin-key-for-tests-0123456789', 'groupBy=character&from=2026-03-01&limit=1');
    expect(top.rows.map((r) => [r.label, r.turns + r.modelErrors])).toEqual([['Aria', 5]]);
    expect(top).toMatchObject({ groupsLeftOut: 1 });
    expect(top.totals).toEqual(all.totals);
    const days = await usage(a.key, 'groupBy=day&from=2026-03-01&to=2026-03-31&limit=1');
    expect(days.rows.map((r) => r.group)).toEqual(['2026-03-10', '2026-03-11']);
    expect(days).toMatchObject({ groupsLeftOut: 0 });
    const res = await h.call('GET', '/api/v1/usage?groupBy=character&limit=0', { key: a.key });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'limit must be 1-10000', details: { field: 'limit' } });
  });

  it('limits the range: a date `to` includes that day, `from` is inclusive', async () => {
    const firstDay = await usage(a.key, 'groupBy=day&from=2026-03-10&to=2026-03-10');
    expect(firstDay.rows.map((r) => r.group)).toEqual(['2026-03-10']);
    const secondDay = await usage(a.key, 'groupBy=platform&from=2026-03-11T00:00:00Z');
    expect(secondDay.totals.turns).toBe(1);
  });

  it('groups by key for the admin only', async () => {
    const res = await h.call('GET', '/api/v1/usage?groupBy=key', { key: a.key });
    expect(res.statusCode).toBe(403);
    expect(errorOf(res).code).toBe('FORBIDDEN');
    const keys = await usage('admin-key-for-tests-0123456789', 'groupBy=key&from=2026-03-01');
    expect(Object.fromEntries(keys.rows.map((r) => [r.label, r.turns + r.modelErrors]))).toEqual({
      'tenant-a': 4,
      'tenant-b': 1,
      'no key (admin and platforms)': 1,
    });
  });

  it('refuses bad parameters with a message naming the field', async () => {
    for (const [qs, field, message] of [
      ['groupBy=week', 'groupBy', 'groupBy must be one of day, character, model, platform, key'],
      ['from=yesterday', 'from', 'from must be a date (YYYY-MM-DD) or an ISO 8601 time'],
      ['from=2026-03-12&to=2026-03-01', 'from', 'from must be before to'],
    ] as const) {
      const res = await h.call('GET', `/api/v1/usage?${qs}`, { key: a.key });
      expect(res.statusCode, qs).toBe(400);
      expect(errorOf(res)).toMatchObject({ code: 'VALIDATION_ERROR', message, details: { field } });
    }
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await h.call('GET', '/openapi.json')).json();
    const params = doc.paths['/api/v1/usage'].get.parameters.map((p: { name: string }) => p.name);
    expect(params).toEqual(expect.arrayContaining(['from', 'to', 'groupBy', 'limit']));
    expect(doc.paths['/api/v1/platforms'].get).toBeDefined();
  });
});
