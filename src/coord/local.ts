import { EventEmitter } from 'node:events';
import { MemoryRateLimits, NoticeGate } from '../engine/limits.js';
import type { Bus, Coordination, Leadership } from './types.js';
import type { Logger } from '../log.js';
import { startCron } from '../scheduler/cron.js';

/** An in-process bus: what one instance publishes, it hears. */
class LocalBus implements Bus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  publish(topic: string, payload: string): void {
    this.emitter.emit(topic, payload);
  }
  subscribe(topic: string, listener: (payload: string) => void): () => void {
    this.emitter.on(topic, listener);
    return () => this.emitter.off(topic, listener);
  }
}

/** The only process is always the leader. */
class SoleLeader implements Leadership {
  private readonly ac = new AbortController();
  run(lead: (lost: AbortSignal) => void | Promise<void>): void {
    void lead(this.ac.signal);
  }
  async stop(): Promise<void> {
    this.ac.abort();
  }
}

/** One process: limits in memory, chat order by the engine's own queue, an in-process bus. */
export function localCoordination(log: Logger): Coordination {
  return {
    kind: 'local',
    limits: new MemoryRateLimits(),
    notices: new NoticeGate(),
    bus: new LocalBus(),
    leadership: () => new SoleLeader(),
    every: async (name, pattern, task) => startCron(pattern, task, log, name),
    ping: async () => true,
    close: async () => undefined,
  };
}
