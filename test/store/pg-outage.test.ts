/**
 * Taking a PostgreSQL connection waits out an outage of a server reached before, and only that:
 * a server never reached (a wrong DATABASE_URL) or an error that is not about reaching it fails
 * at once, and an outage longer than the wait fails as STORE_UNAVAILABLE.
 */
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { toErrorResponse } from '../../src/http/errors.js';
import { asStoreError, Downtime, isUnreachable, waitingConnect } from '../../src/store/pg-outage.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

/** A server that answers by a script: 'up', 'refused', or another error to throw. */
function server(script: Array<'up' | 'refused' | Error>) {
  let calls = 0;
  return {
    connect: async () => {
      const step = script[Math.min(calls++, script.length - 1)]!;
      if (step === 'up') return { client: calls };
      throw step === 'refused' ? refused() : step;
    },
    calls: () => calls,
  };
}

describe('waitingConnect', () => {
  it('waits for a server it reached before, and connects once it is back', async () => {
    const s = server(['up', 'refused', 'refused', 'up']);
    const released: unknown[] = [];
    const take = waitingConnect(s.connect, (c) => void released.push(c), 10_000);
    await take();
    // The probe's connection (the 4th call) is given back; the waiter connects after it.
    await expect(take()).resolves.toEqual({ client: 5 });
    expect(released).toEqual([{ client: 4 }]);
  });

  it('counts how long the server was unreachable, from the first refusal to the connection that found it back', async () => {
    const s = server(['up', 'refused', 'refused', 'refused', 'up']);
    const downtime = new Downtime();
    const take = waitingConnect(s.connect, () => undefined, 10_000, downtime);
    await take();
    expect(downtime.soFar()).toBe(0);
    const started = Date.now();
    await take();
    const took = Date.now() - started;
    // The probe looks every 100 ms: three refusals, then back.
    expect(downtime.soFar()).toBeGreaterThan(0);
    expect(downtime.soFar()).toBeLessThanOrEqual(took);
    const after = downtime.soFar();
    await take();
    expect(downtime.soFar()).toBe(after); // up: nothing more counts
  });

  it('lets every waiter go as one probe finds the server back', async () => {
    const s = server(['up', ...Array<'refused'>(8).fill('refused'), 'up']);
    const take = waitingConnect(s.connect, () => undefined, 10_000);
    await take();
    const clients = await Promise.all(Array.from({ length: 5 }, () => take()));
    expect(clients).toHaveLength(5);
    // 1 + 5 first tries + the probe's 4 (3 refused, 1 up) + 5 second tries: nobody knocked alone.
    expect(s.calls()).toBe(15);
  });

  it('fails at once when the server was never reached', async () => {
    const s = server(['refused', 'up']);
    await expect(waitingConnect(s.connect, () => undefined, 10_000)()).rejects.toThrow('ECONNREFUSED');
    expect(s.calls()).toBe(1);
  });

  it('fails at once on an error that is not about reaching the server', async () => {
    const denied = Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' });
    const s = server(['up', denied, 'up']);
    const take = waitingConnect(s.connect, () => undefined, 10_000);
    await take();
    await expect(take()).rejects.toBe(denied);
  });

  it('gives up after the wait with STORE_UNAVAILABLE', async () => {
    const s = server(['up', 'refused']);
    const take = waitingConnect(s.connect, () => undefined, 250);
    await take();
    const err = await take().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 });
    expect(s.calls()).toBeGreaterThan(2);
    // Nobody waits any more: the probe stops knocking.
    const after = s.calls();
    await new Promise((r) => setTimeout(r, 350));
    expect(s.calls()).toBeLessThanOrEqual(after + 1);
  });
});

describe('asStoreError', () => {
  it('turns a dropped connection into STORE_UNAVAILABLE and leaves a statement error alone', () => {
    expect(asStoreError(new Error('Connection terminated unexpectedly'))).toBeInstanceOf(StoreUnavailableError);
    expect(asStoreError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBeInstanceOf(StoreUnavailableError);
    const unique = Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' });
    expect(asStoreError(unique)).toBe(unique);
    expect(isUnreachable(unique)).toBe(false);
  });
});

describe('over HTTP', () => {
  it('an unreachable database is a 503 STORE_UNAVAILABLE with Retry-After, not a 500', () => {
    const r = toErrorResponse(asStoreError(new Error('Connection terminated unexpectedly')));
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.body.error.code).toBe('STORE_UNAVAILABLE');
    expect(r.body.error.message).toMatch(/try again shortly/);
  });

  it('so is Redis giving up on a command after its reconnect attempts', () => {
    const gaveUp = Object.assign(new Error('Reached the max retries per request limit (which is 10).'), { name: 'MaxRetriesPerRequestError' });
    const r = toErrorResponse(gaveUp);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('REDIS_UNAVAILABLE');
  });
});
