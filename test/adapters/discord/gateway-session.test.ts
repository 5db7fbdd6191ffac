/**
 * The note a process keeps of its gateway session says up to which sequence its messages are
 * safely with the engine: never past a message still on its way, so a crash has Discord replay
 * it rather than skip it.
 */
import { describe, expect, it } from 'vitest';
import { GatewaySessions } from '../../../adapters/discord/gateway-session.js';
import { testLogger } from '../../helpers/harness.js';

function setup() {
  const notes = new Map<string, string>();
  let now = 1_000_000;
  const sessions = new GatewaySessions(
    { put: async (k, v) => void notes.set(k, v), get: async (k) => notes.get(k) },
    'bot1',
    { log: testLogger(), now: () => now, saveEveryMs: 60_000 },
  );
  const ready = (shard: number, s: number) => sessions.dispatched(shard, { t: 'READY', s, d: { session_id: `sess-${shard}`, resume_gateway_url: 'wss://gateway.test' } });
  const message = (shard: number, s: number, id: string) => sessions.dispatched(shard, { t: 'MESSAGE_CREATE', s, d: { id, channel_id: 'c1' } });
  return { sessions, ready, message, advance: (ms: number) => (now += ms), now: () => now };
}

describe('gateway session notes', () => {
  it('note each shard behind its oldest message not yet with the engine, and at its newest event once all are', async () => {
    const { sessions, ready, message, now } = setup();
    ready(0, 1);
    ready(1, 1);
    message(0, 2, 'm2');
    message(0, 3, 'm3');
    sessions.dispatched(0, { t: 'TYPING_START', s: 4, d: {} });
    message(1, 2, 'n2');
    sessions.settled('m3'); // answered out of order: m2 still holds the note back
    sessions.settled('n2');
    await sessions.stop();
    expect(await sessions.stored([0, 1, 2], now() - 1)).toEqual([
      { shard: 0, sessionId: 'sess-0', resumeUrl: 'wss://gateway.test', seq: 1 },
      { shard: 1, sessionId: 'sess-1', resumeUrl: 'wss://gateway.test', seq: 2 },
    ]);

    sessions.settled('m2');
    await sessions.stop();
    expect((await sessions.stored([0], now() - 1))[0]?.seq).toBe(4);
  });

  it('stop holding the note back for a message that never reached the engine after a minute, and skip notes older than asked', async () => {
    const { sessions, ready, message, advance, now } = setup();
    ready(0, 1);
    message(0, 2, 'lost-in-discordjs');
    await sessions.stop();
    expect((await sessions.stored([0], now() - 1))[0]?.seq).toBe(1);
    advance(61_000);
    await sessions.stop();
    expect((await sessions.stored([0], now() - 1))[0]?.seq).toBe(2);
    expect(await sessions.stored([0], now() + 1)).toEqual([]);
  });
});
