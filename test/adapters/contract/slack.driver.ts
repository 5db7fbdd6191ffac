/**
 * Slack for the contract suite: the whole runtime with the real Bolt adapter receiving signed HTTP
 * events from the fake (test/adapters/slack/world.ts, per-channel limit scaled 10×). DMs are new
 * D… channels; the group is a C… channel, where a top-level mention starts its own thread; a
 * thread place is a thread in that channel.
 */
import type { SlackTarget } from '../../../adapters/slack/keys.js';
import { appMention, channelMessage, imMessage, nextTs, type SlackEvent } from '../../fakes/slack.js';
import { responseTo, startSlackWorld } from '../slack/world.js';
import type { ContractWorld, Place, PlatformDriver, Sent } from './driver.js';

interface SkPlace {
  channel: string;
  /** The thread's root, for a thread place. */
  threadTs?: string;
}

interface SkSent {
  event: SlackEvent;
  eventId: string;
}

const ALICE = 'U0ALICE';

export const slackDriver: PlatformDriver = {
  platform: 'slack',
  mode: 'http',
  async start(): Promise<ContractWorld> {
    const w = await startSlackWorld({ mode: 'http' });
    let next = 0;
    const placeOf = (p: Place) => p.ref as SkPlace;
    const sentOf = (s: Sent) => s.ref as SkSent;
    const group = `C0GROUP`;
    /** The conversation of a message: a DM, or the thread a channel message starts or continues. */
    const threadOf = (s: Sent) => (s.place.kind === 'dm' ? undefined : (sentOf(s).event.thread_ts as string | undefined) ?? (sentOf(s).event.ts as string));
    return {
      adapter: w.adapter,
      model: w.openai,
      userName: ALICE.toLowerCase(),
      maxMessageLength: 3900,
      place(kind) {
        if (kind === 'dm') return { kind, ref: { channel: `D0DM${next++}` } satisfies SkPlace };
        if (kind === 'group') return { kind, ref: { channel: group } satisfies SkPlace };
        return { kind, ref: { channel: group, threadTs: nextTs() } satisfies SkPlace };
      },
      async say(place, text, o = {}) {
        const p = placeOf(place);
        const input = { channel: p.channel, user: ALICE, ...(p.threadTs ? { thread_ts: p.threadTs } : {}) };
        const event =
          place.kind === 'dm'
            ? imMessage({ ...input, text })
            : o.addressed === false
              ? channelMessage({ ...input, text })
              : appMention({ ...input, text: `<@${w.fake.botUserId}> ${text}` });
        const r = await w.fake.postEvent(w.eventsUrl, event);
        if (r.status !== 200) throw new Error(`the adapter answered the event with ${r.status}`);
        return { place, ref: { event, eventId: r.eventId } satisfies SkSent };
      },
      async redeliver(sent) {
        const { event, eventId } = sentOf(sent);
        await w.fake.postEvent(w.eventsUrl, event, { eventId, retryNum: 1, retryReason: 'http_timeout' });
      },
      async command(place, name) {
        const res = await w.fake.postSlashCommand(w.eventsUrl, { command: '/charbridge', text: name, user_id: ALICE, channel_id: placeOf(place).channel });
        await w.settled();
        const body = responseTo(w.fake, res.responseUrl);
        if (!body) throw new Error(`no answer to /charbridge ${name}`);
        return body.text;
      },
      texts: (place) => w.fake.channelMessages(placeOf(place).channel, placeOf(place).threadTs).map((m) => m.text),
      async idle() {
        await w.fake.idle();
        await w.settled();
      },
      rateLimitNext: () => w.fake.rateLimitNext('chat.postMessage', 1),
      get tooManyRequests() {
        return w.fake.tooManyRequests;
      },
      keyOf(sent) {
        const thread = threadOf(sent);
        return { platform: 'slack', chatId: placeOf(sent.place).channel, ...(thread ? { threadId: thread } : {}) };
      },
      targetOf(sent): SlackTarget {
        const thread = threadOf(sent);
        return { channel: placeOf(sent.place).channel, ...(thread ? { threadTs: thread } : {}), dm: sent.place.kind === 'dm' };
      },
      conversation: async (key) => (await w.rt.store.conversations.getByScope(key)) ?? undefined,
      close: () => w.close(),
    };
  },
};
