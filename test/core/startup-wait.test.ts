/**
 * Start-up and a server that is not up yet: refusals and "starting" answers are tried again for
 * STARTUP_WAIT_MS, with one line saying what is awaited; anything else fails at once.
 */
import { describe, expect, it } from 'vitest';
import { waitForServer } from '../../src/core/startup-wait.js';
import { recordingWait } from '../helpers/startup-wait.js';

const what = { server: 'PostgreSQL', variable: 'DATABASE_URL', where: 'postgres://db:5432/app' };
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const transient = (err: unknown) => (err as { code?: string }).code === 'ECONNREFUSED';

/** An attempt that fails with each of `errors` in turn (or with `errors(call)`), then answers. */
function script(errors: Error[] | ((call: number) => Error | undefined)) {
  let calls = 0;
  return {
    attempt: async () => {
      const n = calls++;
      const err = typeof errors === 'function' ? errors(n) : errors[n];
      if (err) throw err;
      return 'up';
    },
    calls: () => calls,
  };
}

describe('waiting at start-up for a server', () => {
  it('tries again while the server refuses, saying once what it waits for and where it is configured', async () => {
    const wait = recordingWait(60_000, 1);
    const s = script([refused(), refused(), refused()]);
    await expect(waitForServer(what, s.attempt, transient, wait)).resolves.toBe('up');
    expect(s.calls()).toBe(4);
    expect(wait.lines).toHaveLength(2);
    expect(wait.lines[0]!.level).toBe('warn');
    expect(wait.lines[0]!.message).toContain('PostgreSQL at postgres://db:5432/app (DATABASE_URL) does not answer yet');
    expect(wait.lines[0]!.message).toContain('up to 60 s');
    expect(wait.lines[0]!.message).toContain('STARTUP_WAIT_MS');
    expect(wait.lines[1]).toEqual({ level: 'info', message: 'PostgreSQL answered; start-up goes on' });
  });

  it('fails at once on what waiting cannot fix (a wrong password, a missing database)', async () => {
    const wait = recordingWait(60_000, 1);
    const wrong = Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' });
    const s = script([wrong]);
    await expect(waitForServer(what, s.attempt, transient, wait)).rejects.toBe(wrong);
    expect(s.calls()).toBe(1);
    expect(wait.lines).toEqual([]);
  });

  it('fails at once without a wait (the CLI) or with STARTUP_WAIT_MS=0', async () => {
    const none = script([refused()]);
    await expect(waitForServer(what, none.attempt, transient, undefined)).rejects.toThrow('ECONNREFUSED');
    expect(none.calls()).toBe(1);
    const zero = script([refused()]);
    const wait = recordingWait(0, 1);
    await expect(waitForServer(what, zero.attempt, transient, wait)).rejects.toThrow(/^connect ECONNREFUSED/);
    expect(zero.calls()).toBe(1);
    expect(wait.lines).toEqual([]);
  });

  it('gives up after the wait, saying it waited', async () => {
    const wait = recordingWait(30, 1);
    const s = script(() => refused());
    const err = (await waitForServer(what, s.attempt, transient, wait).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^still no answer after 0 s \(STARTUP_WAIT_MS\): connect ECONNREFUSED/);
    expect((err.cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect(s.calls()).toBeGreaterThan(1);
    expect(wait.lines.map((l) => l.level)).toEqual(['warn']);
  });
});
