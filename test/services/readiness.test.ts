import { describe, expect, it } from 'vitest';
import { Readiness } from '../../src/services/readiness.js';
import { openStore } from '../../src/store/index.js';
import { connect, pendingMigrations } from '../../src/store/db.js';

describe('readiness of the database', () => {
  it('is not ready while migrations have not run, naming them', async () => {
    const { db } = connect(':memory:');
    try {
      const report = await new Readiness({ pendingMigrations: () => pendingMigrations(db, 'sqlite') }).check();
      expect(report.ready).toBe(false);
      expect(report.checks[0]).toEqual({ name: 'database', ready: true });
      expect(report.checks[1]).toMatchObject({ name: 'migrations', ready: false, reason: expect.stringMatching(/^not run yet: 001_initial, 002_http_api/) });
    } finally {
      await db.destroy();
    }
  });

  it('is not ready when the database does not answer', async () => {
    const store = await openStore(':memory:');
    expect((await new Readiness(store).check()).ready).toBe(true);
    await store.close();
    const report = await new Readiness(store).check();
    expect(report.ready).toBe(false);
    expect(report.checks).toEqual([
      { name: 'database', ready: false, reason: 'the database does not answer' },
      { name: 'migrations', ready: false, reason: 'unknown while the database does not answer' },
    ]);
  });

  it('is not ready while a running process still starts, naming what it waits for', async () => {
    const store = await openStore(':memory:');
    try {
      let waiting: string | undefined = 'discord';
      const readiness = new Readiness(store, () => [], undefined, () => waiting);
      const report = await readiness.check();
      expect(report.ready).toBe(false);
      expect(report.checks.at(-1)).toEqual({ name: 'start', ready: false, reason: 'still starting: discord' });
      waiting = undefined;
      expect(await readiness.check()).toEqual({ ready: true, checks: [{ name: 'database', ready: true }, { name: 'migrations', ready: true }, { name: 'start', ready: true }] });
    } finally {
      await store.close();
    }
  });
});
