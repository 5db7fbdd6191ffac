/**
 * "typing…" while a turn runs. Platforms show it for a few seconds only (Telegram ~5 s, Discord
 * ~10 s), so it is sent now and renewed every interval until stopped. It goes through the
 * budget's idle-only path (`tryNow`): it never waits for a slot and never delays a real message;
 * where the platform counts it (`counted`), it is skipped when no slot is free right now.
 */
import type { BestEffortOptions, OutboundBudget } from './budget.js';

export class TypingRenewer {
  private timer: NodeJS.Timeout | undefined;

  /** `send` is one typing call; without it (a surface that cannot show typing) start does nothing. */
  constructor(
    private readonly budget: Pick<OutboundBudget, 'tryNow'>,
    private readonly key: string,
    private readonly send: (() => Promise<unknown>) | undefined,
    private readonly intervalMs: number,
    private readonly counted: BestEffortOptions = {},
  ) {}

  start(): void {
    const send = this.send;
    if (this.timer || !send) return;
    const ping = () => this.budget.tryNow(this.key, send, this.counted);
    ping();
    this.timer = setInterval(ping, this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
