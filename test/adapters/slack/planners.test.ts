/**
 * Slack's reply planners with a recording stand-in for the Web API (the narrow SlackSender they
 * are given): the tier gate decides while planning but only a call made uses a slot, and a reply
 * complete before its first preview is one postMessage, never a stream.
 */
import { describe, expect, it } from 'vitest';
import { replyPlanner, type PlannerDeps, type SlackSender } from '../../../adapters/slack/planners.js';
import { TierGate } from '../../../adapters/slack/tiers.js';
import { ReplyMarks } from '../../../adapters/slack/reply-marks.js';
import { SlackOutbound } from '../../../adapters/slack/outbound.js';
import { testLogger } from '../../helpers/harness.js';

function world(tiers: ConstructorParameters<typeof TierGate>[0]) {
  const calls: string[] = [];
  let ts = 0;
  const sender: SlackSender = {
    postMessage: async (a) => (calls.push(`postMessage:${a.text}`), `1.${++ts}`),
    update: async (a) => void calls.push(`update:${a.text}`),
    postEphemeral: async () => void calls.push('postEphemeral'),
    startStream: async (a) => (calls.push(`startStream:${a.markdown}`), `1.${++ts}`),
    appendStream: async (a) => void calls.push(`appendStream:${a.markdown}`),
    stopStream: async (a) => void calls.push(`stopStream:${a.markdown ?? ''}`),
  };
  const gate = new TierGate(tiers, () => 0);
  const deps: PlannerDeps = {
    sender, gate, log: testLogger(), errorCode: () => undefined, retryAfterMs: () => undefined,
    messageLimit: 3900, streamLimit: 12_000, streaming: { available: true }, marks: new ReplyMarks(undefined, testLogger()),
  };
  const target = { channel: 'C1', threadTs: '1.0', dm: false, recipient: { userId: 'U1', teamId: 'T1' } };
  return { calls, gate, deps, planner: replyPlanner(target, deps) };
}

describe('Slack tier gate', () => {
  it('takes a 429 as the tier spent until its Retry-After, whatever this process counted', () => {
    let now = 0;
    const gate = new TierGate({ 'chat.update': { max: 50, windowMs: 60_000, reserve: 15 } }, () => now);
    expect(gate.hasRoom('chat.update')).toBe(true);
    gate.refused('chat.update', 20_000);
    expect(gate.hasRoom('chat.update')).toBe(false);
    now = 19_999;
    expect(gate.hasRoom('chat.update')).toBe(false);
    now = 20_000;
    expect(gate.hasRoom('chat.update')).toBe(true);
    gate.refused('conversations.history', 1000); // a method without a configured tier too
    expect(gate.hasRoom('conversations.history')).toBe(false);
  });

  it("learns it from the outbound's calls: a refused chat.update stops previews (a complete reply is then one post)", async () => {
    const { deps } = world({});
    let refuse = true;
    const limited = Object.assign(new Error('ratelimited'), { retryAfterMs: 30_000 });
    const sender: SlackSender = {
      ...deps.sender,
      update: async (a) => {
        if (refuse) throw limited;
        return deps.sender.update(a);
      },
    };
    let now = 0;
    const outbound = new SlackOutbound({
      sender, log: testLogger(), errorCode: () => undefined, retryAfterMs: (e) => (e === limited ? 30_000 : undefined),
      now: () => now,
      sleep: async (ms) => void (now += ms), // the budget waits out the Retry-After on this clock
    });
    expect(outbound.gate.hasRoom('chat.update')).toBe(true);
    const planner = outbound.planner({ channel: 'D1', dm: true });
    await planner.perform(planner.plan('Hello', false)!); // a preview: posted, its final update prepaid
    const final = planner.plan('Hello world', true)!;
    await expect(planner.perform(final)).rejects.toBe(limited); // the budget would wait 30 s and retry it
    expect(outbound.gate.hasRoom('chat.update')).toBe(false);
    expect(outbound.planner({ channel: 'D1', dm: true }).plan('Hel', false)).toBeUndefined(); // no new preview while spent
    expect(outbound.planner({ channel: 'D1', dm: true }).plan('Hello', true)).toMatchObject({ via: 'messages', step: { kind: 'send' } }); // a whole reply still goes
    now += 30_000;
    refuse = false;
    await planner.perform(final);
    expect(outbound.gate.hasRoom('chat.update')).toBe(true);
  });

  it('holds even a final text back while Slack refuses its tier, instead of drawing another 429; a channel\'s own 429 holds no other channel', async () => {
    const { calls, deps } = world({});
    let now = 0;
    const outbound = new SlackOutbound({
      sender: deps.sender, log: testLogger(), errorCode: () => undefined, retryAfterMs: () => undefined,
      now: () => now,
      sleep: async (ms) => void (now += ms), // the budget's waits, on this clock
    });
    const planner = outbound.planner({ channel: 'D1', dm: true });
    await planner.perform(planner.plan('Hello', false)!); // a preview: posted, its final update prepaid
    // Slack refused chat.update for 30 s (this instance's 429 on another channel, or another instance's told through the tally).
    outbound.gate.refused('chat.update', 30_000);
    outbound.gate.refused('chat.postMessage', 30_000); // per channel at Slack: says nothing of D2
    const final = planner.plan('Hello world', true)!;
    await outbound.budget.run('D1', () => planner.perform(final), { priority: 'high' });
    expect(now).toBeGreaterThanOrEqual(30_000); // waited out, as a 429 would have been…
    expect(calls).toEqual(['postMessage:Hello', 'update:Hello world']); // …but with no call Slack would have refused
    expect(outbound.gate.refusalLeft('chat.postMessage')).toBe(0);
    const other = outbound.planner({ channel: 'D2', dm: true });
    await other.perform(other.plan('Hi', true)!);
    expect(calls.at(-1)).toBe('postMessage:Hi');
  });
});

describe('Slack reply planners', () => {
  it('plans a native stream as often as asked without using the Tier 2 slot; the call uses it', async () => {
    const { calls, gate, planner } = world({ 'chat.startStream': { max: 1, windowMs: 60_000 } });
    for (let i = 0; i < 5; i++) expect(planner.plan('Hello', false)).toMatchObject({ via: 'native', step: { kind: 'start' } });
    expect(gate.hasRoom('chat.startStream')).toBe(true);
    await planner.perform(planner.plan('Hello', false)!);
    expect(gate.hasRoom('chat.startStream')).toBe(false);
    await planner.perform(planner.plan('Hello world', true)!);
    expect(calls).toEqual(['startStream:Hello', 'stopStream: world']); // the last words and the stop in one call
    expect(planner.plan('Hello world', true)).toBeUndefined();
  });

  it('posts a reply complete before its first preview once, with no stream and no update', async () => {
    const { calls, planner } = world({});
    expect(planner.plan('All done.', false)).toMatchObject({ via: 'native' }); // a preview would have streamed…
    await planner.perform(planner.plan('All done.', true)!); // …but the final text came first
    expect(planner.plan('All done.', true)).toBeUndefined();
    expect(calls).toEqual(['postMessage:All done.']);
  });

  it('does not preview into messages when the final chat.update could not be paid for', async () => {
    const { calls, deps } = world({ 'chat.update': { max: 1, windowMs: 60_000, reserve: 1 } });
    const dm = replyPlanner({ channel: 'D1', dm: true }, deps); // a top-level DM: no thread to stream into
    expect(dm.plan('Hel', false)).toBeUndefined(); // no room to update later: wait for the final text
    await dm.perform(dm.plan('Hello', true)!);
    expect(calls).toEqual(['postMessage:Hello']);
  });
});
