/** An accepted API turn, or a reply already stored, survives the process that held it dying. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { inbound, testEngineConfig } from '../helpers/harness.js';
import { requestHash } from '../../src/services/idempotency.js';
import { errorOf, startApi, type ApiHarness } from './helpers.js';
import { dropOnce, dropped, outage } from '../helpers/dropped-connection.js';
import { IDEMPOTENCY_PENDING_LEASE_MS } from '../../src/store/idempotency.js';

const open: ApiHarness[] = [];
let dir: string | undefined;
afterEach(async () => {
  while (open.length) await open.pop()!.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function twoProcesses() {
  dir = mkdtempSync(join(tmpdir(), 'cb-api-recover-'));
  const clock = new ManualClock();
  const dbPath = join(dir, 'db.sqlite');
  const a = await startApi({ clock, dbPath });
  open.push(a);
  return { clock, dbPath, a, later: async () => {
    const b = await startApi({ clock, dbPath });
    open.unshift(b);
    return b;
  } };
}

/**
 * Once process A is gone, process B's sweep finds nothing of a turn its client was told failed:
 * the key's feed holds the one reply its retry got, made by one model call and charged once.
 */
async function onlyTheRetryAnswered(a: ApiHarness, later: () => Promise<ApiHarness>, clock: ManualClock, k: { key: string; id: string }): Promise<void> {
  const b = await later();
  clock.advance(testEngineConfig().deadAfterMs + 1);
  expect(await b.chat.recover()).toBe(0);
  await b.chat.drain();
  const updates = (await b.call('GET', '/api/v1/updates', { key: k.key })).json<{ updates: Array<{ kind: string }> }>().updates;
  expect(updates.map((u) => u.kind)).toEqual(['reply']);
  expect(a.fake.requests).toHaveLength(1);
  expect((await b.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
}

describe('API turns across a crash', () => {
  it('answers an accepted async turn once on the updates feed, charging its credit once', async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    a.fake.slowFirstToken(60_000); // the process dies while the model is still thinking
    const accepted = await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'still there?', mode: 'async' } });
    expect(accepted.statusCode).toBe(202);
    const { sessionId } = accepted.json<{ sessionId: string }>();
    await expect.poll(() => a.fake.requests.length).toBe(1);

    const b = await later();
    expect(await b.chat.recover()).toBe(0); // A still heartbeats (as far as B can tell): its turn is its own
    clock.advance(testEngineConfig().deadAfterMs + 1);
    expect(await b.chat.recover()).toBe(1);
    await b.chat.drain();
    const feed = (await b.call('GET', `/api/v1/updates?sessionId=${sessionId}`, { key: k.key })).json<{ updates: Array<{ kind: string; message?: { content: string } }> }>();
    expect(feed.updates).toEqual([expect.objectContaining({ kind: 'reply', message: expect.objectContaining({ content: 'Echo: still there?' }) })]);
    expect((await b.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
    expect(await b.chat.recover()).toBe(0);
    const history = await b.store.messages.newest(sessionId, { limit: 10 });
    expect(history.map((m) => m.role)).toEqual(['assistant', 'user']); // the user's line stored once
    await a.fake.close(); // the dead process's model call ends, so its harness can close quickly
  });

  it('puts the reply on the feed once when the process died after putting it there, before marking the turn done', async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    a.store.events.complete = async () => {}; // A dies right after the feed append: the claim stays open
    const accepted = await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'once only', mode: 'async' } });
    const { sessionId } = accepted.json<{ sessionId: string }>();
    await a.chat.drain();
    const feed = async (h: ApiHarness) => (await h.call('GET', `/api/v1/updates?sessionId=${sessionId}`, { key: k.key })).json<{ updates: Array<{ kind: string; message?: { content: string } }> }>().updates;
    expect(await feed(a)).toHaveLength(1);

    const b = await later();
    clock.advance(testEngineConfig().deadAfterMs + 1);
    expect(await b.chat.recover()).toBe(1); // B finishes the turn: the stored reply, not a new model call
    await b.chat.drain();
    expect(b.fake.requests).toHaveLength(0);
    expect(await feed(b)).toEqual([expect.objectContaining({ kind: 'reply', message: expect.objectContaining({ content: 'Echo: once only' }) })]);
    expect((await b.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
    expect(await b.chat.recover()).toBe(0);
  });

  it('finishes, by the next sweep, an async turn the database dropped under: one reply on the feed, no error, one credit', async () => {
    const { a } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    const feed = async () => (await a.call('GET', `/api/v1/updates`, { key: k.key })).json<{ updates: Array<{ kind: string; message?: { content: string } }> }>().updates;
    // The reply's write fails as a PostgreSQL restart fails it (the connection dropped under it).
    const append = dropOnce(a.store.messages, 'append', { only: (m: { role: string }) => m.role === 'assistant' });
    const accepted = await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'through the outage', mode: 'async' } });
    expect(accepted.statusCode).toBe(202);
    await a.chat.drain();
    expect(await feed()).toEqual([]); // neither an error nor a reply yet
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1); // still reserved

    // The same process's next sweep finishes it.
    expect(await a.chat.recover()).toBe(1);
    await a.chat.drain();
    expect(await feed()).toEqual([expect.objectContaining({ kind: 'reply', message: expect.objectContaining({ content: 'Echo: through the outage' }) })]);
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
    expect(await a.chat.recover()).toBe(0);

    // Synchronous, the same drop is a 503 to try again, and nothing is charged.
    append.rearm();
    const sync = await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'now or never' } });
    expect(sync.statusCode).toBe(503);
    expect(errorOf(sync).code).toBe('STORE_UNAVAILABLE');
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
  });

  it('finishes, once the database is back, an async turn the database dropped under for longer than handing it to the sweep tries: its reply, no error', async () => {
    const { a } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    const feed = async () => (await a.call('GET', `/api/v1/updates`, { key: k.key })).json<{ updates: Array<{ kind: string; message?: { content: string } }> }>().updates;
    dropOnce(a.store.messages, 'append', { only: (m: { role: string }) => m.role === 'assistant' });
    const handing = outage(a.store.events, 'release');
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'a long outage', mode: 'async' } })).statusCode).toBe(202);
    await a.chat.drain();
    expect(handing.calls()).toBe(5);
    expect(await feed()).toEqual([]); // neither an error nor a reply yet
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);

    // Back: the heartbeat's sweep hands it over, and answers it.
    handing.end();
    await a.engine.recover(async () => {});
    expect(await a.chat.recover()).toBe(1);
    await a.chat.drain();
    expect(await feed()).toEqual([expect.objectContaining({ kind: 'reply', message: expect.objectContaining({ content: 'Echo: a long outage' }) })]);
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
  }, 15_000);

  it('undoes a turn whose claim landed as the connection dropped: its 503 holds, nothing is charged, and no sweep answers it later', async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    // The claim and its reservation commit, and the connection drops before the answer comes back.
    dropOnce(a.store.events, 'claimPaid', { landed: true });
    const body = { characterId: 'aria', message: 'did it land?', mode: 'async' };
    const headers = { 'idempotency-key': 'landed-1' };
    const refused = await a.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    expect(refused.statusCode).toBe(503);
    await a.engine.drain(5000);
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(0);
    expect(await a.store.events.backlog()).toBe(0);

    // The client retries as told, with its key: one turn, charged once.
    const retried = await a.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    expect(retried.statusCode).toBe(202);
    await a.chat.drain();
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);

    // Once A is gone, nothing of the refused turn is left for another instance to answer.
    await onlyTheRetryAnswered(a, later, clock, k);
  });

  it.each([
    ['before it landed', false],
    ['as it landed, leaving no empty session behind', true],
  ])("undoes a turn the database dropped under before it was accepted (creating its new session, %s): the 503 holds, and the retry is the only answer", async (_, landed) => {
    const { clock, a, later } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    dropOnce(a.store.conversations, 'create', { landed });
    const body = { characterId: 'aria', message: 'a new session, please', mode: 'async' };
    const headers = { 'idempotency-key': 'new-session-1' };
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body, headers })).statusCode).toBe(503);
    await a.engine.drain(5000);
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(0);
    expect(await a.chat.recover()).toBe(0); // nothing handed to the sweep
    await a.chat.drain();
    const sessions = async () => (await a.call('GET', '/api/v1/conversations', { key: k.key })).json<{ conversations: Array<{ sessionId: string }> }>().conversations;
    expect(await sessions()).toEqual([]);
    const retried = await a.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    expect(retried.statusCode).toBe(202);
    await a.chat.drain();
    expect((await sessions()).map((c) => c.sessionId)).toEqual([retried.json<{ sessionId: string }>().sessionId]);

    await onlyTheRetryAnswered(a, later, clock, k);
  });

  it('releases the credit of an accepted turn whose character is gone', async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    const made = await a.call('POST', '/api/v1/characters', { key: k.key, body: { name: 'Brief', personality: 'Here and gone again.', speakingStyle: 'Quick and to the point.' } });
    const characterId = made.json<{ id: string }>().id;
    a.fake.slowFirstToken(60_000);
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId, message: 'hi', mode: 'async' } })).statusCode).toBe(202);
    await expect.poll(() => a.fake.requests.length).toBe(1);
    await a.store.characters.delete(characterId);
    const b = await later();
    clock.advance(testEngineConfig().deadAfterMs + 1);
    expect(await b.chat.recover()).toBe(0);
    expect((await b.store.apiKeys.get(k.id))?.creditsUsed).toBe(0);
    await a.fake.close();
  });
});

describe('a reply stored just before a crash', () => {
  it('is delivered by the next process without asking the model again', async () => {
    const { clock, a, later } = await twoProcesses();
    const msg = inbound({ text: 'remember me' });
    await a.engine.handle(msg).collect();
    expect(a.fake.requests).toHaveLength(1);
    // The process died after storing the reply, before marking the event done.
    await a.store.db
      .updateTable('processed_events')
      .set({ state: 'processing', payload: JSON.stringify(msg), owner: 'a-process-that-died' })
      .where('event_id', '=', msg.eventId)
      .execute();
    const b = await later();
    clock.advance(1);
    const delivered: string[] = [];
    expect(
      await b.engine.recover(async (_m, events) => {
        for (const e of events) if (e.type === 'done') delivered.push(e.message.content);
      }),
    ).toBe(1);
    expect(delivered).toEqual(['Echo: remember me']);
    expect(b.fake.requests).toHaveLength(0);
    expect(a.fake.requests).toHaveLength(1);
  });
});

describe('an Idempotency-Key whose request died with its process', () => {
  it('replays the answer of the recovered turn to a retry — no 409 for minutes, no second model call or charge', async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    a.fake.slowFirstToken(60_000); // A dies while the model is still thinking
    const first = a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'once only' }, headers: { 'idempotency-key': 'k-1' } });
    void first.catch(() => undefined);
    await expect.poll(() => a.fake.requests.length).toBe(1);

    const b = await later();
    const retry = () => b.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'once only' }, headers: { 'idempotency-key': 'k-1' } });
    expect(errorOf(await retry())).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' }); // A still counts as alive
    clock.advance(testEngineConfig().deadAfterMs + 1);
    expect(errorOf(await retry())).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' }); // its turn is not recovered yet
    expect(await b.chat.recover()).toBe(1);
    await b.chat.drain();
    const replayed = await retry();
    expect(replayed.statusCode).toBe(200);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.json()).toMatchObject({ message: { content: 'Echo: once only' }, credits: { used: 1, remaining: 4 } });
    const again = await retry();
    expect(again.json()).toEqual(replayed.json());
    expect(b.fake.requests).toHaveLength(1); // the recovery's, none for the retries
    expect((await b.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
    await a.fake.close();
  });

  it('runs the request anew when the dead process never started its turn, reserving nothing twice', async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    const body = { characterId: 'aria', message: 'try again' };
    // A claimed the key and died before its turn was recorded (nothing reserved yet).
    const begun = await a.store.idempotency.begin(k.id, 'k-2', requestHash('POST /api/v1/chat', body), clock.now(), {
      instanceId: a.engineConfig.instanceId,
      deadAfterMs: a.engineConfig.deadAfterMs,
      turnId: 'turn-never-started',
    });
    expect(begun.state).toBe('new');
    const b = await later();
    clock.advance(testEngineConfig().deadAfterMs + 1);
    const res = await b.call('POST', '/api/v1/chat', { key: k.key, body, headers: { 'idempotency-key': 'k-2' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ message: { content: 'Echo: try again' }, credits: { used: 1, remaining: 4 } });
    expect((await b.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
    const replay = await b.call('POST', '/api/v1/chat', { key: k.key, body, headers: { 'idempotency-key': 'k-2' } });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(b.fake.requests).toHaveLength(1);
  });
  it("replays an accepted turn's answer to a retry long after its process died before recording that answer under the key", async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    const body = { characterId: 'aria', message: 'accepted, then gone', mode: 'async' };
    const headers = { 'idempotency-key': 'k-3' };
    // Every try at recording the 202 under the key fails, as through a database outage, until A dies.
    const complete = a.store.idempotency.complete.bind(a.store.idempotency);
    a.store.idempotency.complete = async () => {
      throw dropped();
    };
    const first = await a.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    expect(first.statusCode).toBe(202);
    await expect.poll(async () => (await a.call('GET', '/api/v1/updates', { key: k.key })).json<{ updates: unknown[] }>().updates.length).toBe(1);
    const b = await later();
    // Retried past the pending key's lease: its turn was answered, so the answer is replayed, not run again.
    clock.advance(IDEMPOTENCY_PENDING_LEASE_MS + 1);
    const retry = await b.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    a.store.idempotency.complete = complete; // let A's background tries land, so it closes
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toEqual(first.json());
    expect(a.fake.requests.length + b.fake.requests.length).toBe(1);
    expect((await b.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
  });
});

describe('an Idempotency-Key through a dropped connection', () => {

  it('is free again after a 503 whose claim of the key landed as the connection dropped: the retry runs, not a 409', async () => {
    const { a } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    dropOnce(a.store.idempotency, 'begin', { landed: true });
    const body = { characterId: 'aria', message: 'knock knock' };
    const headers = { 'idempotency-key': 'knock-1' };
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body, headers })).statusCode).toBe(503);
    await a.chat.drain();
    const retried = await a.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    expect(retried.statusCode).toBe(200);
    expect(retried.json<{ message: { content: string } }>().message.content).toBe('Echo: knock knock');
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
  });

  it('is free again once the database is back, though forgetting the key failed for longer than its background tries', async () => {
    const { a } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    dropOnce(a.store.idempotency, 'begin', { landed: true });
    const forgetting = outage(a.store.idempotency, 'release');
    const body = { characterId: 'aria', message: 'still there?' };
    const headers = { 'idempotency-key': 'there-1' };
    // The background tries' pauses (about a minute and a half) pass on a fake clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      expect((await a.call('POST', '/api/v1/chat', { key: k.key, body, headers })).statusCode).toBe(503);
      await vi.advanceTimersByTimeAsync(120_000);
    } finally {
      vi.useRealTimers();
    }
    expect(forgetting.calls()).toBe(20);
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body, headers })).statusCode).toBe(409); // still down: pending

    // Back: the heartbeat's sweep forgets the key, and the retry runs.
    forgetting.end();
    await a.engine.recover(async () => {});
    const retried = await a.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    expect(retried.statusCode).toBe(200);
    expect(retried.json<{ message: { content: string } }>().message.content).toBe('Echo: still there?');
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
  });

  it('answers a request whose reply could not be recorded under its key at once, and replays that reply to a retry', async () => {
    const { a } = await twoProcesses();
    const k = await a.newKey({ credits: 5 });
    dropOnce(a.store.idempotency, 'complete');
    const body = { characterId: 'aria', message: 'once, please' };
    const headers = { 'idempotency-key': 'once-1' };
    const first = await a.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    expect(first.statusCode).toBe(200); // the turn ran and was charged: its answer is the response
    const again = await a.call('POST', '/api/v1/chat', { key: k.key, body, headers });
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(a.fake.requests).toHaveLength(1);
    expect((await a.store.apiKeys.get(k.id))?.creditsUsed).toBe(1);
  });
});

describe("a failed turn's credits", () => {
  /** A key that has paid for one reply already, so a second giving-back would show. */
  async function keyWithOneReply(a: ApiHarness) {
    const k = await a.newKey({ credits: 5 });
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'paid for' } })).statusCode).toBe(200);
    return k;
  }
  const used = async (h: ApiHarness, id: string) => (await h.store.apiKeys.get(id))?.creditsUsed;
  const feedKinds = async (h: ApiHarness, key: string) => (await h.call('GET', '/api/v1/updates', { key })).json<{ updates: Array<{ kind: string }> }>().updates.map((u) => u.kind);

  it('go back though the statement giving them back dropped before it landed', async () => {
    const { a } = await twoProcesses();
    const k = await keyWithOneReply(a);
    const release = dropOnce(a.store.apiKeys, 'release');
    a.fake.failNext(1, { status: 500 });
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'this one fails' } })).statusCode).toBe(502);
    expect(await used(a, k.id)).toBe(1);
    expect(release.calls()).toBe(2); // tried again after the drop
    expect(await a.store.events.backlog()).toBe(0);
  });

  it('go back as soon as the database is back, though it was down longer than closing the failed turn tries, and no later start answers that turn', async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await keyWithOneReply(a);
    const closing = outage(a.store.events, 'close');
    a.fake.failNext(1, { status: 500 });
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'this one fails' } })).statusCode).toBe(502);
    expect(closing.calls()).toBe(5);
    expect(await used(a, k.id)).toBe(2); // still held while the database is down

    // Back: the heartbeat's sweep closes the turn and gives its credit back.
    closing.end();
    expect(await a.engine.recover(async () => {})).toBe(0);
    expect(await used(a, k.id)).toBe(1);
    expect(await a.store.events.backlog()).toBe(0);
    // A later start finds nothing to answer: the caller told 502 is neither answered nor charged.
    const b = await later();
    clock.advance(testEngineConfig().deadAfterMs + 1);
    expect(await b.chat.recover()).toBe(0);
    expect(await feedKinds(b, k.key)).toEqual([]);
    expect(await used(b, k.id)).toBe(1);
    expect(a.fake.requests).toHaveLength(2);
  }, 15_000);

  it('go back once, with the failure on the feed once, though the connection dropped as they went back and it was tried again', async () => {
    const { a } = await twoProcesses();
    const k = await keyWithOneReply(a);
    const close = dropOnce(a.store.events, 'close', { landed: true });
    a.fake.failNext(1, { status: 500 });
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'this one fails', mode: 'async' } })).statusCode).toBe(202);
    await a.chat.drain();
    expect(close.calls()).toBe(2);
    expect(await used(a, k.id)).toBe(1);
    expect(await feedKinds(a, k.key)).toEqual(['error']);
  });

  it("stay reserved for the sweep when the process dies before closing the failed turn, so the sweep's answer is the only one on the feed, and paid for", async () => {
    const { clock, a, later } = await twoProcesses();
    const k = await keyWithOneReply(a);
    a.store.events.complete = async () => {}; // A dies as the turn failed, before closing it
    a.store.events.close = async () => false;
    a.fake.failNext(1, { status: 500 });
    expect((await a.call('POST', '/api/v1/chat', { key: k.key, body: { characterId: 'aria', message: 'fails, then not', mode: 'async' } })).statusCode).toBe(202);
    await a.chat.drain();
    expect(await used(a, k.id)).toBe(2); // still reserved: the turn is not closed

    const b = await later();
    clock.advance(testEngineConfig().deadAfterMs + 1);
    expect(await b.chat.recover()).toBe(1);
    await b.chat.drain();
    expect(await feedKinds(b, k.key)).toEqual(['reply']); // not a failure its later answer contradicts
    expect(await used(b, k.id)).toBe(2); // the sweep's reply is paid for, not given free
  });
});
