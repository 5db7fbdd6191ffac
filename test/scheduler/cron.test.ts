import { describe, expect, it } from 'vitest';
import { startCron } from '../../src/scheduler/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { testLogger } from '../helpers/harness.js';

describe('cron', () => {
  it('fires on a six-field (seconds) schedule and never overlaps a slow run', async () => {
    let runs = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    let finish!: () => void;
    const slowRun = new Promise<void>((r) => (finish = r));
    let overlapped!: () => void;
    const skipped = new Promise<void>((r) => (overlapped = r));
    const task = startCron(
      '* * * * * *',
      async () => {
        runs++;
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        await slowRun;
        concurrent--;
      },
      testLogger(),
      'test',
      { overlap: overlapped },
    );
    try {
      // The first run holds on until node-cron has refused to start the next one beside it.
      await skipped;
      finish();
      await expect.poll(() => runs, { timeout: 5000, interval: 20 }).toBeGreaterThanOrEqual(2);
      expect(maxConcurrent).toBe(1);
    } finally {
      finish();
      await task.stop();
    }
  });

  it('names PROACTIVE_CRON when the expression is invalid', () => {
    expect(() => startCron('every minute', async () => {}, testLogger())).toThrow(ConfigError);
    expect(() => startCron('every minute', async () => {}, testLogger())).toThrow(/PROACTIVE_CRON/);
  });
});
