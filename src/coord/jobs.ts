import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '../log.js';
import { connectRedis, type Redis } from './redis-client.js';

/**
 * Periodic work that must run once per due time in the whole cluster (the proactive tick,
 * housekeeping), on BullMQ: each instance upserts the same job scheduler (idempotent) and runs a
 * worker; BullMQ hands each due run to exactly one of them. The database rows the jobs work on
 * stay the truth (claims, leases), so a run that dies half-way is finished by the next one.
 */
export class ClusterJobs {
  private readonly handlers = new Map<string, () => Promise<unknown>>();
  private readonly queue: Queue;
  private readonly worker: Worker;
  private readonly connections: Redis[];

  constructor(url: string, prefix: string, private readonly log: Logger) {
    // BullMQ's blocking worker connection must wait for Redis rather than fail a command.
    const forQueue = connectRedis(url, log, 'jobs', { maxRetriesPerRequest: null });
    const forWorker = connectRedis(url, log, 'jobs-worker', { maxRetriesPerRequest: null });
    this.connections = [forQueue, forWorker];
    const bullPrefix = `${prefix}bull`;
    this.queue = new Queue('periodic', { connection: forQueue, prefix: bullPrefix });
    this.worker = new Worker('periodic', (job: Job) => this.run(job), { connection: forWorker, prefix: bullPrefix, concurrency: 4, autorun: true });
    this.worker.on('error', (err) => log.warn({ err }, 'job worker error'));
  }

  private async run(job: Job): Promise<void> {
    const handler = this.handlers.get(job.name);
    if (!handler) return; // scheduled by a newer version of charbridge that this instance does not know
    try {
      await handler();
    } catch (err) {
      this.log.error({ err, job: job.name }, 'scheduled job failed');
    }
  }

  /** Run `task` on `pattern` (cron, five fields or six with seconds), once per due time across instances. */
  async every(name: string, pattern: string, task: () => Promise<unknown>): Promise<{ stop(): Promise<void> }> {
    this.handlers.set(name, task);
    await this.queue.upsertJobScheduler(name, { pattern }, { name, opts: { removeOnComplete: 50, removeOnFail: 50 } });
    return { stop: async () => void this.handlers.delete(name) };
  }

  async close(): Promise<void> {
    await this.worker.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    for (const c of this.connections) c.disconnect();
  }
}
