/**
 * The heartbeat's sweep: a sweep still waiting on what it took over (a recovered reply held up
 * by a platform's rate limit) does not stop the next ones from running, and stopping waits for
 * every sweep to finish.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Liveness } from '../../src/services/liveness.js';
import { startHarness, testLogger, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('liveness', () => {
  it('sweeps again while an earlier sweep is still answering, and stop() waits for all of them', async () => {
    h = await startHarness();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let sweeps = 0;
    const liveness = new Liveness(h.store, h.clock, testLogger(), {
      instanceId: 'instance-under-test',
      heartbeatMs: 5,
      recover: async () => (++sweeps === 1 ? (await held, 1) : 0),
    });
    await liveness.register();
    liveness.start();
    await expect.poll(() => sweeps).toBeGreaterThanOrEqual(3); // the first is still waiting
    let stopped = false;
    const stopping = liveness.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false); // the first sweep still holds what it took over
    release();
    await stopping;
    expect(stopped).toBe(true);
  });
});
