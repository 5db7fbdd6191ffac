/**
 * The limit every chat of one bot shares (Telegram: ~30 messages a second per bot), behind a
 * small interface so where it is counted can change without touching the budget's scheduling:
 * in this process by default, or later in Redis, so several instances of one bot stay under
 * the one limit together.
 *
 * The budget decides who goes next (fairly, per chat); the shared window only says whether one
 * more send fits now. A send holds its slot from `acquire` until it is settled: `commit` counts
 * it from its end (after the platform counted it, so network jitter cannot make the next send
 * early), `release` gives the slot back (nothing was sent, or the platform refused it).
 */
import { createHash } from 'node:crypto';
import type { Priority, RateWindow, SharedTally, SharedTallyFactory, SharedWindow, SharedWindowFactory, WindowLease } from '../../src/core/outbound-window.js';
import { recordSend, windowsWait } from './rate-window.js';

export type { SharedWindow, WindowLease } from '../../src/core/outbound-window.js';

/** The default: windows counted in this process, shared by every chat of one budget (or of several budgets given the same instance). */
export class LocalSharedWindow implements SharedWindow {
  /** Finish times of counted sends, ascending. */
  private readonly sent: number[] = [];
  private inFlight = 0;

  constructor(
    private readonly windows: readonly RateWindow[],
    private readonly now: () => number = Date.now,
  ) {
    for (const w of windows) {
      if (!(w.max >= 1) || !(w.windowMs > 0)) throw new Error(`shared window needs max >= 1 and windowMs > 0 (got max ${w.max}, windowMs ${w.windowMs})`);
    }
  }

  acquire(priority: Priority): WindowLease | number {
    const wait = windowsWait(this.sent, this.inFlight, this.windows, priority, this.now());
    if (wait > 0) return wait;
    this.inFlight++;
    let settled = false;
    const settle = (counted: boolean) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      if (counted) recordSend(this.sent, this.now(), this.windows);
    };
    return { commit: () => settle(true), release: () => settle(false) };
  }
}

/** A stable, non-secret name for a bot token (its hash), to name what instances share for it. */
export function tokenId(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/**
 * The budget's `sharedChats` for one bot: each chat's windows counted under `bot:chat:<key>` in
 * the deployment's shared windows, for the chats `applies` to (all by default).
 */
export function sharedChannels(factory: SharedWindowFactory, bot: string, applies: (chatKey: string) => boolean = () => true) {
  return (chatKey: string, windows: readonly RateWindow[]): SharedWindow | undefined => (applies(chatKey) ? factory(`${bot}:chat:${chatKey}`, windows, 'chat') : undefined);
}

/**
 * Less than a restart takes: Node loads our modules, the database opens, the adapters start
 * (measured ~1.6 s from spawn to ready on two shared cores). A chat window no longer than this
 * has emptied before a restarted process can send into the chat, so only longer ones are kept
 * past a restart: a Slack channel's 3 s, a Discord channel's 5 s, a Telegram group's minute —
 * not a Telegram chat's second, which would cost a write per private message and protect nothing.
 */
export const RESTART_MS = 1000;

/**
 * The budget's `rememberedChats` for one bot run as a single instance: each chat's longest window
 * that outlasts a restart, tallied under `bot:chat:<key>` (where the Redis windows would be
 * named), for the chats `applies` to. A chat whose windows are all shorter has no tally.
 */
export function rememberedChannels(factory: SharedTallyFactory, bot: string, applies: (chatKey: string) => boolean = () => true) {
  return (chatKey: string, windows: readonly RateWindow[]): SharedTally | undefined => {
    if (!applies(chatKey)) return undefined;
    let longest: RateWindow | undefined;
    for (const w of windows) if (w.windowMs > RESTART_MS && w.windowMs > (longest?.windowMs ?? 0)) longest = w;
    return longest && factory(`${bot}:chat:${chatKey}`, longest);
  };
}
