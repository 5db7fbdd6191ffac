import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '../log.js';
import { connectRedis, type Redis } from './redis-client.js';

/** How often each instance checks that its schedules are still in Redis. */
const SCHEDULE_CHECK_MS = 60_000;
/** BullMQ's answer when a schedule's next run already exists and is running or done (its error has no code). */
const ITERATION_TAKEN = /job scheduler iteration - job ID already exists/;
/** How long a due time's run is remembered, against BullMQ handing its job out again (seconds apart at most). */
const RAN_TTL_MS = 3_600_000;

/**
 * Periodic work that must run once per due time in the whole cluster (the proactive tick,
 * housekeeping), on BullMQ: each instance upserts the same job scheduler (idempotent) and runs a
 * worker; BullMQ hands each due run to exactly one of them. The database rows the jobs work on
 * stay the truth (claims, leases), so a run that dies half-way is finished by the next one.
 *
 * A schedule lives only in Redis. A Redis restarted without its data (or one evicting keys under
 * memory pressure) forgets it, and nothing would run again until an instance restarts, so every
 * instance checks its schedules after each reconnect and every minute, and schedules again what
 * is missing.
 */
export class ClusterJobs {
  private readonly handlers = new Map<string, () => Promise<unknown>>();
  private readonly patterns = new Map<string, string>();
  private readonly check: NodeJS.Timeout;
  private readonly queue: Queue;
  private readonly worker: Worker;
  private readonly connections: Redis[];

  constructor(url: string, private readonly prefix: string, private readonly log: Logger, checkMs = SCHEDULE_CHECK_MS) {
    // BullMQ's blocking worker connection must wait for Redis rather than fail a command.
    const forQueue = connectRedis(url, log, 'jobs', { maxRetriesPerRequest: null });
    const forWorker = connectRedis(url, log, 'jobs-worker', { maxRetriesPerRequest: null });
    this.connections = [forQueue, forWorker];
    const bullPrefix = `${prefix}bull`;
    this.queue = new Queue('periodic', { connection: forQueue, prefix: bullPrefix });
    this.worker = new Worker('periodic', (job: Job) => this.run(job), { connection: forWorker, prefix: bullPrefix, concurrency: 4, autorun: true });
    this.worker.on('error', (err) => log.warn({ err }, 'job worker error'));
    let connectedBefore = false;
    forQueue.on('ready', () => {
      if (connectedBefore) void this.restoreMissing();
      connectedBefore = true;
    });
    this.check = setInterval(() => void this.restoreMissing(), checkMs);
    this.check.unref();
  }

  /** Schedule again each of this instance's schedules that Redis no longer has. */
  private async restoreMissing(): Promise<void> {
    for (const [name, pattern] of this.patterns) {
      try {
        if (await this.queue.getJobScheduler(name)) continue;
        this.log.warn({ job: name }, 'a periodic job was missing from Redis (restarted without its data, or evicted); scheduled again');
        await this.schedule(name, pattern);
      } catch (err) {
        this.log.warn({ err, job: name }, 'could not check a periodic job in Redis; checking again later');
      }
    }
  }

  private async schedule(name: string, pattern: string): Promise<void> {
    try {
      await this.queue.upsertJobScheduler(name, { pattern }, { name, opts: { removeOnComplete: 50, removeOnFail: 50 } });
    } catch (err) {
      // Another instance's worker took the schedule's next run just as this upsert came (a start at
      // a due time): BullMQ refuses to make that run again, and the schedule stands as it is.
      if (!ITERATION_TAKEN.test(String((err as Error)?.message)) || !(await this.queue.getJobScheduler(name))) throw err;
      this.log.debug({ job: name }, 'a periodic job was already scheduled, its next run under way');
    }
  }

  private async run(job: Job): Promise<void> {
    const handler = this.handlers.get(job.name);
    if (!handler) return; // scheduled by a newer version of charbridge that this instance does not know
    if (!(await this.firstRun(job))) {
      this.log.debug({ job: job.name, id: job.id }, 'a periodic job already ran for this due time; not again');
      return;
    }
    try {
      await handler();
    } catch (err) {
      this.log.error({ err, job: job.name }, 'scheduled job failed');
    }
  }

  /**
   * Whether this is the first run of the job's due time. BullMQ can hand one due time's job out
   * twice: its upsert reads the next due time off the caller's clock, then swaps the schedule's
   * waiting run for a job of that time even when one has already run, putting the finished job
   * back in line. An instance whose clock is a little behind does that, or one whose upsert
   * crosses a due time while its connection opens (at start). A mark per job id in Redis keeps
   * it to one run; if Redis cannot be asked, the run goes ahead (the work is on database claims,
   * so a second run does no harm, where a skipped one would wait for the next due time).
   */
  private async firstRun(job: Job): Promise<boolean> {
    try {
      return (await this.connections[0]!.set(`${this.prefix}jobs:ran:${job.id}`, '1', 'PX', RAN_TTL_MS, 'NX')) === 'OK';
    } catch (err) {
      this.log.warn({ err, job: job.name }, 'could not note a periodic job\'s run in Redis; running it');
      return true;
    }
  }

  /** Run `task` on `pattern` (cron, five fields or six with seconds), once per due time across instances. */
  async every(name: string, pattern: string, task: () => Promise<unknown>): Promise<{ stop(): Promise<void> }> {
    this.handlers.set(name, task);
    this.patterns.set(name, pattern);
    await this.schedule(name, pattern);
    return {
      stop: async () => {
        this.handlers.delete(name);
        this.patterns.delete(name);
      },
    };
  }

  async close(): Promise<void> {
    clearInterval(this.check);
    await this.worker.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    for (const c of this.connections) c.disconnect();
  }
}
