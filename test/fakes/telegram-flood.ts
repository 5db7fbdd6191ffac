/**
 * Flood control for the fake Telegram server (see ./telegram.ts). Telegram documents its
 * limits only as guidance ("about one message per second in a chat, 20 per minute in a
 * group, about 30 per second overall") and enforces them with `429 Too Many Requests:
 * retry after N`. The fake enforces them strictly, so an adapter that streams edits too
 * fast fails in tests the way it would fail in production. All times come from the
 * injected clock; limits can be scaled down so tests need not wait real seconds.
 */

export interface FloodLimits {
  /** Window for the per-chat limit: at most `chatBurst` sends per this many ms. 0 disables it. */
  chatMinIntervalMs: number;
  /** Sends allowed within one `chatMinIntervalMs` window. */
  chatBurst: number;
  /** Sends allowed per group/supergroup chat (negative chat id) within `groupWindowMs`. */
  groupPerWindow: number;
  groupWindowMs: number;
  /** Sends allowed across all chats within any 1000 ms. */
  globalPerSecond: number;
}

export const TELEGRAM_LIMITS: FloodLimits = {
  chatMinIntervalMs: 1000,
  chatBurst: 1,
  groupPerWindow: 20,
  groupWindowMs: 60_000,
  globalPerSecond: 30,
};

export class FloodControl {
  private readonly perChat = new Map<number, number[]>();
  private readonly perGroup = new Map<number, number[]>();
  private global: number[] = [];
  /** Chat id → clock time its 429 penalty ends (Telegram keeps refusing until then). */
  private readonly penalty = new Map<number, number>();

  constructor(
    readonly limits: FloodLimits,
    private readonly now: () => number,
  ) {}

  /**
   * 0 when a send to `chatId` may go out now; otherwise the `retry_after` to report: whole
   * seconds, rounded up, at least 1. A chat/group refusal also starts a penalty lasting
   * exactly that many seconds, during which every send to the chat is refused.
   */
  check(chatId: number): number {
    const t = this.now();
    const until = this.penalty.get(chatId) ?? 0;
    if (until > t) return toSeconds(until - t);
    const { chatMinIntervalMs, chatBurst, groupPerWindow, groupWindowMs, globalPerSecond } = this.limits;
    let wait = 0;
    if (chatMinIntervalMs > 0) wait = Math.max(wait, waitFor(this.perChat.get(chatId), t, chatMinIntervalMs, chatBurst));
    if (chatId < 0) wait = Math.max(wait, waitFor(this.perGroup.get(chatId), t, groupWindowMs, groupPerWindow));
    if (wait > 0) {
      const secs = toSeconds(wait);
      this.penalty.set(chatId, t + secs * 1000);
      return secs;
    }
    const globalWait = waitFor(this.global, t, 1000, globalPerSecond);
    return globalWait > 0 ? toSeconds(globalWait) : 0;
  }

  /** Counts a send that went out (only successful sends use up the allowance). */
  record(chatId: number): void {
    const t = this.now();
    const add = (m: Map<number, number[]>, keep: number) => m.set(chatId, [...(m.get(chatId) ?? []), t].filter((x) => x > t - keep));
    add(this.perChat, Math.max(this.limits.chatMinIntervalMs, 1));
    if (chatId < 0) add(this.perGroup, this.limits.groupWindowMs);
    this.global = [...this.global, t].filter((x) => x > t - 1000);
  }

  /** Forgets all history and penalties (e.g. between phases of a test). */
  reset(): void {
    this.perChat.clear();
    this.perGroup.clear();
    this.penalty.clear();
    this.global = [];
  }
}

/** ms until fewer than `max` of `times` fall inside the trailing `windowMs`; 0 if already so. */
function waitFor(times: number[] | undefined, t: number, windowMs: number, max: number): number {
  const recent = (times ?? []).filter((x) => x > t - windowMs);
  if (max <= 0) return windowMs;
  if (recent.length < max) return 0;
  return recent[recent.length - max]! + windowMs - t;
}

const toSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));
