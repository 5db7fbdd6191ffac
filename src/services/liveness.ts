import type { Clock } from '../core/clock.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { Presence } from '../coord/index.js';
import { OUTAGE_WAIT_MS } from '../store/pg-outage.js';

export interface LivenessOptions {
  instanceId: string;
  /** How often this process says it is alive, and looks for work a dead one left. */
  heartbeatMs: number;
  /** Finish what dead instances claimed (platform messages, API turns); returns how many. */
  recover: () => Promise<number>;
  /**
   * Instances saying they are alive outside the database (Redis), every heartbeat: an owner that
   * says so there is not dead, though its row went stale while the database was away.
   */
  presence?: Presence | undefined;
  /** INSTANCE_DEAD_AFTER_MS: how far back presence is read. */
  deadAfterMs?: number | undefined;
}

/**
 * This process's heartbeat and the sweep that goes with it. Every `heartbeatMs` the instance
 * row is refreshed and unfinished work owned by instances that stopped heartbeating is taken
 * over — so a message a crashed process accepted is answered within seconds of the crash (or of
 * the next start), and a live instance's long turn is never stolen. A sweep takes its work over
 * at once and then waits for it to be answered; the next tick's sweep does not wait for that (a
 * recovered reply may be held up by a platform's rate limit), and finds only what is new.
 */
export class Liveness {
  private timer: NodeJS.Timeout | undefined;
  /** Sweeps still answering what they took over. */
  private readonly sweeps = new Set<Promise<void>>();
  /** A presence beat still waiting for Redis: the next heartbeat does not queue another. */
  private sensing = false;
  private presenceFailed = false;
  /** When this instance last reached the database with its heartbeat. */
  private reachedDatabaseAt = 0;
  private registered = false;
  /** The last heartbeat did not reach the database (or took longer than a heartbeat). */
  private cutOff = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: LivenessOptions,
  ) {}

  /** Register this instance; call before claiming anything. */
  async register(): Promise<void> {
    const now = this.clock.now();
    await this.store.instances.register(this.opts.instanceId, now);
    this.reachedDatabaseAt = now;
    if (!this.registered) this.watchFrom(now);
    this.registered = true;
    await this.sense();
  }

  /**
   * Among instances (Redis presence), judge the others dead only by a silence this process watched
   * in full: from its start, and from its return after an outage (see `InstanceRepo.watchFrom`).
   * A single instance has no peer a stale row could wrong, and its start must not wait.
   */
  private watchFrom(at: number): void {
    if (this.opts.presence) this.store.instances.watchFrom(at);
  }

  /** Start heartbeating and sweeping, with one sweep right away. */
  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.opts.heartbeatMs);
    this.timer.unref();
  }

  /** Stop, let a running sweep finish, and mark this instance stopped (a clean stop: its claims are free at once). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.sweeps);
    await this.opts.presence?.leave(this.opts.instanceId).catch(() => undefined);
    await this.store.instances.stop(this.opts.instanceId, this.clock.now()).catch((err: unknown) => this.log.warn({ err }, 'could not mark this instance stopped'));
  }

  /**
   * Say in Redis that this instance is alive, and hear who else did. Runs beside the database's
   * heartbeat, never behind it: through a database outage, the beats and what this process knows
   * of the others stay current, so the sweep after it still finds them alive. Only while this
   * instance's own database heartbeat got through within `OUTAGE_WAIT_MS`: past that its turns
   * have failed and handed their claims back, and an instance cut off from the database alone
   * must not keep its claims from the others.
   */
  private async sense(): Promise<void> {
    const presence = this.opts.presence;
    if (!presence || this.sensing) return;
    this.sensing = true;
    try {
      const now = this.clock.now();
      if (now - this.reachedDatabaseAt <= OUTAGE_WAIT_MS) await presence.beat(this.opts.instanceId, now);
      this.store.instances.noteSeenElsewhere(await presence.seenSince(now - 2 * (this.opts.deadAfterMs ?? 10_000)));
      this.presenceFailed = false;
    } catch (err) {
      // What was heard before ages out by itself; the database's rows still speak meanwhile.
      if (!this.presenceFailed) this.log.warn({ err }, 'could not tell Redis this instance is alive; judging others by the database alone');
      this.presenceFailed = true;
    } finally {
      this.sensing = false;
    }
  }

  private async tick(): Promise<void> {
    const now = this.clock.now();
    const beat = this.store.instances.beat(this.opts.instanceId, now).then(
      () => {
        this.reachedDatabaseAt = Math.max(this.reachedDatabaseAt, now);
        // Back after an outage (a beat failed, or waited for the database): the others' rows are
        // as stale as this one was, and their first beats since may still be on their way.
        const at = this.clock.now();
        if (this.cutOff || at - now > this.opts.heartbeatMs) this.watchFrom(at);
        this.cutOff = false;
      },
      (err: unknown) => {
        this.cutOff = true;
        this.log.warn({ err }, 'heartbeat failed');
      },
    );
    await Promise.all([beat, this.sense()]);
    const sweep = this.opts
      .recover()
      .then(
        (n) => void (n && this.log.warn({ recovered: n }, 'answered what a stopped process had accepted but not finished')),
        (err: unknown) => this.log.error({ err }, 'recovering unfinished work failed'),
      )
      .finally(() => this.sweeps.delete(sweep));
    this.sweeps.add(sweep);
    await sweep;
  }
}
