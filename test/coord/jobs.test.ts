/**
 * Periodic work on BullMQ: three instances each schedule the same job, and each due time runs
 * on exactly one of them.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCoordination, type Coordination } from '../../src/coord/index.js';
import { ClusterJobs } from '../../src/coord/jobs.js';
import { testLogger } from '../helpers/harness.js';
import { hasRedis, redisPrefix } from '../helpers/services.js';

describe.skipIf(!hasRedis())('periodic jobs across instances', () => {
  const open: Coordination[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  it('runs each due time of a schedule once, on one of three instances', async () => {
    const r = redisPrefix();
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await createCoordination({ redisUrl: r.url, redisPrefix: r.prefix, chatLockTtlMs: 3000 }, testLogger());
      open.push(c);
      await c.every('probe', '* * * * * *', async () => void runs.push(i));
    }
    const deadline = Date.now() + 15_000;
    while (runs.length < 3 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    await Promise.all(open.splice(0).map((c) => c.close()));
    expect(runs.length).toBeGreaterThanOrEqual(3);
    // One run per due time: as many runs as BullMQ completed jobs of the schedule (one job per due
    // time, its id naming the time). The second a run happened in cannot tell: on a loaded machine
    // a late run lands in the next due time's second.
    const connection = new Redis(r.url, { maxRetriesPerRequest: null });
    const queue = new Queue('periodic', { connection, prefix: `${r.prefix}bull` });
    try {
      const due = (await queue.getJobs(['completed'], 0, -1)).filter((j) => j.name === 'probe').map((j) => j.id);
      expect(new Set(due).size).toBe(due.length);
      // Should they ever differ, say what BullMQ holds besides (a run that failed to complete, or ran twice).
      const others = (await queue.getJobs(['failed', 'active', 'wait', 'delayed', 'prioritized'], 0, -1)).map((j) => ({
        id: j.id,
        failedReason: j.failedReason,
        attemptsMade: j.attemptsMade,
        stalledCounter: j.stalledCounter,
      }));
      expect(runs.length, `runs by instance ${JSON.stringify(runs)}, completed ${JSON.stringify(due)}, others ${JSON.stringify(others)}`).toBe(due.length);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    await r.clear();
  }, 30_000);

  it('schedules again what a Redis that lost its data forgot', async () => {
    const r = redisPrefix();
    const jobs = new ClusterJobs(r.url, r.prefix, testLogger(), 300);
    let runs = 0;
    const until = async (n: number) => {
      const deadline = Date.now() + 15_000;
      while (runs < n && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      return runs;
    };
    try {
      await jobs.every('probe', '* * * * * *', async () => void runs++);
      expect(await until(1)).toBeGreaterThanOrEqual(1);
      // What a restart without persistence (or eviction) leaves: none of the schedule's keys.
      await r.clear();
      const before = runs;
      expect(await until(before + 2)).toBeGreaterThanOrEqual(before + 2);
    } finally {
      await jobs.close();
      await r.clear();
    }
  }, 30_000);

  it("starts when another instance's worker has just taken the schedule's next run", async () => {
    // Chaos seed 1284: an instance starting at a due time failed to start. Another instance's
    // worker had moved that run to active and not yet scheduled the one after (BullMQ does so in
    // a second call), and BullMQ refused the upsert, whose next run was the one already running.
    const r = redisPrefix();
    const connection = new Redis(r.url, { maxRetriesPerRequest: null });
    const bull = `${r.prefix}bull`;
    const queue = new Queue('periodic', { connection, prefix: bull });
    const other = new Worker('periodic', null, { connection: new Redis(r.url, { maxRetriesPerRequest: null }), prefix: bull, autorun: false });
    const yearly = '0 0 1 1 *';
    let jobs: ClusterJobs | undefined;
    try {
      await queue.upsertJobScheduler('yearly', { pattern: yearly }, { name: 'yearly' });
      const [next] = await queue.getDelayed();
      const due = next!.timestamp + next!.delay;
      await next!.promote();
      expect((await other.getNextJob('other-instance'))?.id).toBe(next!.id); // running on the other instance
      // The moment between its two calls: the schedule still names the running job as its next.
      await connection.zadd(`${bull}:periodic:repeat`, due, 'yearly');
      await expect(queue.upsertJobScheduler('yearly', { pattern: yearly }, { name: 'yearly' })).rejects.toThrow('job ID already exists');
      jobs = new ClusterJobs(r.url, r.prefix, testLogger());
      await expect(jobs.every('yearly', yearly, async () => undefined)).resolves.toBeDefined();
      expect((await queue.getJobScheduler('yearly'))?.pattern).toBe(yearly);
      await expect(jobs.every('never-scheduled', 'not a cron', async () => undefined)).rejects.toThrow();
    } finally {
      await jobs?.close();
      await other.close();
      await queue.close();
      connection.disconnect();
      await r.clear();
    }
  });

  it('runs a due time once when an upsert computed on a clock just behind it lands after it ran', async () => {
    // BullMQ's upsert reads the next due time off the caller's clock, then (in Redis) swaps the
    // schedule's waiting run for that one even when a job of that time has already run, which
    // puts the finished job back in line. An instance whose clock is a little behind does that;
    // so does one whose connection opens just across a due time, as three instances starting in
    // one process did (a due time's job started twice, the second time after it had completed).
    const r = redisPrefix();
    const connection = new Redis(r.url, { maxRetriesPerRequest: null });
    const bull = `${r.prefix}bull`;
    const queue = new Queue('periodic', { connection, prefix: bull });
    const jobs = new ClusterJobs(r.url, r.prefix, testLogger());
    const pattern = '* * * * * *';
    let runs = 0;
    const completed = async () => (await queue.getJobs(['completed'], 0, -1)).filter((j) => j.name === 'probe');
    try {
      await jobs.every('probe', pattern, async () => void runs++);
      const deadline = Date.now() + 15_000;
      let rerun: string | undefined;
      while (!rerun && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 50));
        const ran = (await completed()).map((j) => Number(j.id!.split(':').pop())).sort((a, b) => b - a)[0];
        const next = (await queue.getJobScheduler('probe'))?.next;
        // Only while the next run waits well ahead, so the swap finds it waiting.
        if (!ran || !next || next - Date.now() < 300) continue;
        const behind = vi.spyOn(Date, 'now').mockReturnValue(ran - 1);
        try {
          await queue.upsertJobScheduler('probe', { pattern }, { name: 'probe', opts: { removeOnComplete: 50, removeOnFail: 50 } });
          rerun = `repeat:probe:${ran}`;
        } catch (err) {
          if (!/job ID already exists/.test(String(err))) throw err; // the run was taken meanwhile: try the next
        } finally {
          behind.mockRestore();
        }
      }
      expect(rerun).toBeDefined();
      // BullMQ hands the finished due time out again...
      while (Date.now() < deadline) {
        const job = await queue.getJob(rerun!);
        if (job && job.attemptsStarted >= 2 && (await job.getState()) === 'completed') break;
        await new Promise((res) => setTimeout(res, 20));
      }
      expect((await queue.getJob(rerun!))?.attemptsStarted).toBeGreaterThanOrEqual(2);
      await jobs.close();
      // ...and it ran once all the same: one run per due time completed.
      expect(runs).toBe(new Set((await completed()).map((j) => j.id)).size);
    } finally {
      await jobs.close();
      await queue.close();
      connection.disconnect();
      await r.clear();
    }
  }, 30_000);

  it('runs a schedule in this process without Redis', async () => {
    const c = await createCoordination({ redisPrefix: 'x:', chatLockTtlMs: 3000 }, testLogger());
    open.push(c);
    let n = 0;
    const job = await c.every('local-probe', '* * * * * *', async () => void n++);
    const deadline = Date.now() + 5000;
    while (n < 1 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    await job.stop();
    expect(n).toBeGreaterThanOrEqual(1);
    await expect(c.every('bad', 'not a cron', async () => undefined)).rejects.toThrow('is not a cron expression');
  });
});
