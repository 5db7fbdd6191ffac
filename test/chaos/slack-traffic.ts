/**
 * The chaos run's Slack traffic, with the harness playing Slack's Events API over HTTP: each DM's
 * messages in order (half the DMs talk in a thread, so replies stream natively there), each event POSTed (signed) to whichever instance is up until one answers
 * 2xx, and some delivered a second time after that with Slack's retry header and the same event
 * id. The reply to `message slk12` reads `re: slk12`, so the bot's messages in the fake say which
 * message each answers; a message that names none is a preview a crash left unfinished.
 */
import type { FakeSlack } from '../fakes/slack.js';
import { imMessage } from '../fakes/slack.js';
import { overtakesIn, type Answered, type Overtake } from './order.js';

export interface SlackTurn {
  token: string;
  channel: string;
  /** A 2xx came back: the bot promised an answer. */
  accepted: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SlackDelivery {
  private readonly lines = new Map<string, Promise<void>>();

  constructor(
    private readonly fake: FakeSlack,
    private readonly url: () => string,
    private readonly giveUpMs = 180_000,
  ) {}

  /** The channels messages go to: `D0CHAOS0` … */
  static channel(n: number): string {
    return `D0CHAOS${n}`;
  }

  /** Odd DMs talk in a thread, where replies stream natively (`chat.startStream`) while Slack's Tier 2 has room. */
  static thread(n: number): string | undefined {
    return n % 2 === 1 ? `${1_700_000_000 + n}.000100` : undefined;
  }

  send(rnd: () => number, i: number, channels: number): SlackTurn {
    const n = Math.floor(rnd() * channels);
    const turn: SlackTurn = { token: `slk${i}`, channel: SlackDelivery.channel(n), accepted: false };
    const thread = SlackDelivery.thread(n);
    const event = imMessage({ channel: turn.channel, user: `U0CHAOS${n}`, text: `message ${turn.token}`, ...(thread ? { thread_ts: thread } : {}) });
    const eventId = `Ev0CHAOS${i}`;
    const twice = rnd() < 0.1;
    const line = (this.lines.get(turn.channel) ?? Promise.resolve()).then(async () => {
      turn.accepted = await this.untilAccepted(event, eventId, 0);
      if (turn.accepted && twice) await this.untilAccepted(event, eventId, 1);
    });
    this.lines.set(turn.channel, line);
    return turn;
  }

  async drain(): Promise<void> {
    await Promise.all(this.lines.values());
  }

  private async untilAccepted(event: ReturnType<typeof imMessage>, eventId: string, retryNum: number): Promise<boolean> {
    const deadline = Date.now() + this.giveUpMs;
    for (let attempt = retryNum; Date.now() < deadline; attempt++) {
      const status = await this.fake
        .postEvent(`${this.url()}/slack/events`, event, { eventId, ...(attempt > 0 ? { retryNum: Math.min(attempt, 3) } : {}) })
        .then((r) => r.status, () => 0);
      if (status >= 200 && status < 300) return true;
      await sleep(300);
    }
    return false;
  }
}

export interface SlackFindings {
  accepted: SlackTurn[];
  lost: string[];
  duplicated: string[];
  /** Each duplicated one's messages and the calls that made them, and each unfinished preview's calls, one line each. */
  explained: string[];
  /** Bot messages naming no message: a preview left unfinished — beside its whole reply (found by the metadata key they share), or alone. */
  unfinished: number;
  unfinishedAlone: number;
  /** Native streams still open when the run was checked (a reply never finished in place). */
  openStreams: number;
  /** Web API calls Slack refused with 429, by method. */
  tooManyRequests: Record<string, number>;
  /** Replies shown before an earlier message's of their DM (by the DM's posting order). */
  order: Overtake[];
}

/**
 * `killTimes`: when instances were killed, so each message shown twice says how long after its
 * first call the next kill came; `crashes`: PostgreSQL and Redis crashes (`--outages`), the
 * latest one in the minute before that call named too.
 */
export function slackFindings(fake: FakeSlack, turns: SlackTurn[], channels: number, killTimes: readonly number[] = [], crashes: ReadonlyArray<{ at: number; what: string }> = []): SlackFindings {
  const crashBefore = (first: number) => {
    const c = crashes.filter((x) => x.at <= first && x.at >= first - 60_000).at(-1);
    return c ? `; ${c.what} began ${first - c.at} ms before the first call` : '';
  };
  const shown = new Map<string, number>();
  const answeredKeys = new Set<unknown>();
  const unfinishedKeys: unknown[] = [];
  let openStreams = 0;
  const keyOf = (m: { metadata?: Record<string, unknown> }) => (m.metadata?.event_payload as { key?: unknown } | undefined)?.key;
  for (let n = 0; n < channels; n++) {
    for (const m of fake.channelMessages(SlackDelivery.channel(n))) {
      if (m.stream === 'open') openStreams++;
      const token = /re: (slk\d+)/.exec(m.text)?.[1];
      if (token) {
        shown.set(token, (shown.get(token) ?? 0) + 1);
        answeredKeys.add(keyOf(m));
      } else unfinishedKeys.push(keyOf(m));
    }
  }
  const accepted = turns.filter((t) => t.accepted);
  // Each DM's messages in the order they were posted (one at a time per DM), with the position of
  // the first bot message that answers each among the DM's bot messages.
  const chats = new Map<string, Answered[]>();
  for (let n = 0; n < channels; n++) {
    const channel = SlackDelivery.channel(n);
    const position = new Map<string, number>();
    fake.channelMessages(channel).forEach((m, i) => {
      const token = /re: (slk\d+)/.exec(m.text)?.[1];
      if (token && !position.has(token)) position.set(token, i);
    });
    chats.set(channel, accepted.filter((t) => t.channel === channel && position.has(t.token)).map((t) => ({ token: t.token, shown: position.get(t.token)! })));
  }
  // For each message shown twice: its messages, and every call that posted, edited or streamed them.
  const when = (t: number) => new Date(t).toISOString().slice(17, 23);
  const explained = [...shown].filter(([, k]) => k > 1).map(([token]) => {
    const messages = Array.from({ length: channels }, (_, n) => fake.channelMessages(SlackDelivery.channel(n))).flat().filter((m) => m.text.includes(`re: ${token}`));
    const ts = new Set(messages.map((m) => m.ts));
    const calls = fake.calls.filter((c) => ts.has(String(c.params.ts ?? '')) || JSON.stringify(c.params).includes(`re: ${token}`));
    const first = Math.min(...calls.map((c) => c.at));
    const kill = Math.min(...killTimes.filter((k) => k >= first));
    const killed = (Number.isFinite(kill) ? `; killed ${kill - first} ms after the first call` : '') + crashBefore(first);
    const where = (m: { thread_ts?: string }) => (m.thread_ts !== undefined ? ` in thread ${m.thread_ts}` : ' at the top');
    return `duplicate ${token}: ${messages.map((m) => `${m.ts}${m.stream ? ` (stream ${m.stream})` : ''}${keyOf(m) === undefined ? ' (no key)' : ` (key ${String(keyOf(m))})`}${where(m)}`).join(', ')}; calls ${calls.map((c) => `${c.method}${c.params.ts ? `[${String(c.params.ts)}]` : ''} ${c.status}${c.error ? ` ${c.error}` : ''} at ${when(c.at)}`).join(', ')}${killed}`;
  });
  // Each preview left unfinished (no reply text in it): its calls, and how long after the first the next kill came.
  for (let n = 0; n < channels; n++) {
    for (const m of fake.channelMessages(SlackDelivery.channel(n))) {
      if (/re: (slk\d+)/.test(m.text)) continue;
      // A stream's ts is when it was opened: its startStream call is the one into this channel at that moment.
      const opened = Number(m.ts) * 1000;
      const calls = fake.calls.filter((c) => String(c.params.ts ?? '') === m.ts || (c.method === 'chat.startStream' && c.params.channel === SlackDelivery.channel(n) && Math.abs(c.at - opened) < 50));
      const first = Math.min(...calls.map((c) => c.at));
      const kill = Math.min(...killTimes.filter((k) => k >= first));
      const killed = (Number.isFinite(kill) ? `; killed ${kill - first} ms after the first call` : '') + crashBefore(first);
      explained.push(`unfinished preview ${m.ts} in ${SlackDelivery.channel(n)}${m.stream ? ` (stream ${m.stream})` : ''}: "${m.text.slice(0, 40)}"; calls ${calls.map((c) => `${c.method} ${c.status} at ${when(c.at)}`).join(', ') || 'none found'}${killed}`);
    }
  }
  return {
    explained,
    accepted,
    lost: accepted.filter((t) => !shown.has(t.token)).map((t) => t.token),
    duplicated: [...shown].filter(([, k]) => k > 1).map(([t]) => t),
    unfinished: unfinishedKeys.length,
    unfinishedAlone: unfinishedKeys.filter((k) => k === undefined || !answeredKeys.has(k)).length,
    openStreams,
    order: overtakesIn(chats),
    tooManyRequests: fake.calls.filter((c) => c.status === 429).reduce<Record<string, number>>((by, c) => ({ ...by, [c.method]: (by[c.method] ?? 0) + 1 }), {}),
  };
}
