import { appMention, imMessage } from '../fakes/slack.js';
import { SCALED_CHANNEL_LIMIT, SCALED_PACING, startSlackWorld } from '../adapters/slack/world.js';
import { ms, percentile, ratio } from './stats.js';

/**
 * The Slack adapter end to end over signed HTTP events (real Bolt, our fastify route, the real
 * engine, the fake model): what the adapter adds to a turn, and whether a burst of mentions
 * stays inside Slack's limits. Floor: the same turn through `engine.handle` directly, same run.
 */
export async function benchSlack(): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = {};
  const w = await startSlackWorld({ mode: 'http' });
  try {
    const N = 100;
    const ack: number[] = [];
    const turn: number[] = [];
    for (let i = 0; i < N + 5; i++) {
      const t0 = performance.now();
      await w.fake.postEvent(w.eventsUrl, imMessage({ channel: `D0BENCH${i}`, user: `U0B${i}`, text: `hello ${i}` }));
      const t1 = performance.now();
      await w.settled();
      if (i >= 5) {
        ack.push(t1 - t0);
        turn.push(performance.now() - t0);
      }
    }
    const floor: number[] = [];
    for (let i = 0; i < N + 5; i++) {
      const t0 = performance.now();
      await w.rt.engine
        .handle({
          platform: 'slack', eventId: `floor-${i}`, chatId: `D0FLOOR${i}`, chatType: 'dm', userId: `U0F${i}`, userName: 'F',
          messageId: String(i), text: `hello ${i}`, imageUrls: [], mentioned: false, repliedToBot: false, senderIsAdmin: false,
        })
        .collect();
      if (i >= 5) floor.push(performance.now() - t0);
    }
    const p50 = percentile(turn, 50);
    const f50 = percentile(floor, 50);
    out['HTTP event ack p50 / p95'] = `${ms(percentile(ack, 50))} / ${ms(percentile(ack, 95))}`;
    out['DM turn, signed POST → reply sent, p50 / p95'] = `${ms(p50)} / ${ms(percentile(turn, 95))}`;
    out['floor: engine.handle alone p50'] = ms(f50);
    out['DM turn p50 / floor'] = ratio(p50, f50);
    const calls = w.fake.calls.filter((c) => c.method.startsWith('chat.')).length;
    out['Web API chat.* calls per DM reply'] = (calls / (N + 5)).toFixed(2);
  } finally {
    await w.close();
  }

  // Burst: 40 streamed mentions across 4 channels at once, Slack's limits scaled 10× faster on both sides.
  const b = await startSlackWorld({
    mode: 'http',
    slack: { limits: { ...SCALED_CHANNEL_LIMIT, 'chat.startStream': { limit: 20, windowMs: 6000, scope: 'workspace' }, 'chat.stopStream': { limit: 20, windowMs: 6000, scope: 'workspace' } } },
    openai: { chunkDelayMs: 5, responder: () => 'one two three four five six seven eight nine ten eleven twelve' },
    tuning: {
      ...SCALED_PACING,
      tiers: {
        'chat.update': { max: 50, windowMs: 6000, reserve: 15 },
        'chat.startStream': { max: 20, windowMs: 6000, reserve: 5 },
        'chat.appendStream': { max: 100, windowMs: 6000, reserve: 20 },
        'chat.stopStream': { max: 20, windowMs: 6000, reserve: 5 },
      },
    },
  });
  try {
    const t0 = performance.now();
    const mentions = Array.from({ length: 40 }, (_, i) => appMention({ channel: `C0BURST${i % 4}`, user: `U0M${i}`, text: `<@${b.fake.botUserId}> go ${i}` }));
    await Promise.all(mentions.map((m) => b.fake.postEvent(b.eventsUrl, m)));
    await b.settled();
    const wall = performance.now() - t0;
    const complete = mentions.filter((m) => b.fake.channelMessages(m.channel as string, m.ts as string).map((x) => x.text).join('') === 'one two three four five six seven eight nine ten eleven twelve').length;
    out['burst: 40 mentions / 4 channels, replies complete'] = `${complete} / 40`;
    out['burst: wall time (limits scaled 10×)'] = ms(wall);
    out['burst: 429s from the fake'] = b.fake.tooManyRequests;
    out['burst: native streams / postMessage replies'] = `${b.fake.calls.filter((c) => c.method === 'chat.startStream' && c.status === 200).length} / ${b.fake.calls.filter((c) => c.method === 'chat.postMessage').length}`;
  } finally {
    await b.close();
  }
  return out;
}
