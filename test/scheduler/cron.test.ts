import { describe, expect, it } from 'vitest';
import { startCron } from '../../src/scheduler/index.js';
import { ConfigError } from '../../src/core/errors.js';
import { testLogger } from '../helpers/harness.js';

describe('cron', () => {
  it('fires on a six-field (seconds) schedule and never overlaps a slow run', async () => {
    let runs = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const task = startCron('* * * * * *', async () => {
      runs++;
      maxConcurrent = Math.max(maxConcurrent, ++concurrent);
      await new Promise((r) => setTimeout(r, 1500));
      concurrent--;
    }, testLogger());
    try {
      await expect.poll(() => runs, { timeout: 5000, interval: 50 }).toBeGreaterThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 1200));
      expect(maxConcurrent).toBe(1);
    } finally {
      await task.stop();
    }
  });

  it('names PROACTIVE_CRON when the expression is invalid', () => {
    expect(() => startCron('every minute', async () => {}, testLogger())).toThrow(ConfigError);
    expect(() => startCron('every minute', async () => {}, testLogger())).toThrow(/PROACTIVE_CRON/);
  });
});
