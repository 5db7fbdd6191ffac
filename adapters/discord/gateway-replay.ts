/**
 * What Discord dispatched to a gateway session while no process was connected to it. Discord
 * keeps a session resumable for a while after its connection drops (a crash) or closes with a
 * code other than 1000/1001 (our stop), and a RESUME replays every event after the sequence the
 * client names. discord.js cannot take over a session a previous process started (a resumed
 * shard never becomes ready in a fresh client), so this opens a connection of its own: HELLO,
 * RESUME, then the replayed dispatches up to RESUMED, keeping where each message was sent; then
 * it closes with 1000, ending the old session. The messages themselves are read over REST.
 *
 * The only importer of `ws` in the adapters (./gateway-socket.ts reaches the copy discord.js loads).
 */
import type { Agent } from 'node:http';
import WebSocket from 'ws';

/** A gateway session as a previous process left it, and the sequence it had handled up to. */
export interface StoredSession {
  shard: number;
  sessionId: string;
  resumeUrl: string;
  seq: number;
}

/** A message Discord replayed: its channel and id. */
export interface ReplayedMessage {
  channelId: string;
  messageId: string;
}

/** Nothing to replay: Discord no longer knows the session (op 9). */
export const EXPIRED = 'expired';

/**
 * Resume `session`, collect the MESSAGE_CREATEs Discord replays, end the session. Rejects on a
 * connection failure, a close before RESUMED or `timeoutMs`. `agentFor`: the outbound proxy's
 * agent for the gateway's address, if one carries it.
 */
export function replayMissed(session: StoredSession, token: string, timeoutMs: number, agentFor?: (url: string) => Agent | undefined): Promise<ReplayedMessage[] | typeof EXPIRED> {
  return new Promise((resolve, reject) => {
    const url = new URL(session.resumeUrl);
    url.searchParams.set('v', '10');
    url.searchParams.set('encoding', 'json');
    const agent = agentFor?.(url.href);
    const ws = new WebSocket(url, agent ? { agent } : {});
    const messages: ReplayedMessage[] = [];
    let seq = session.seq;
    let settled = false;
    const end = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'replayed');
    };
    const timer = setTimeout(() => end(() => reject(new Error(`discord: replaying the previous gateway session took over ${timeoutMs} ms`))), timeoutMs);
    const send = (payload: object) => ws.send(JSON.stringify(payload));
    ws.on('message', (raw) => {
      let p: { op?: number; t?: string | null; s?: number | null; d?: any };
      try {
        p = JSON.parse(String(raw)) as typeof p;
      } catch {
        return end(() => reject(new Error('discord: the gateway sent a frame that is not JSON')));
      }
      if (typeof p.s === 'number') seq = Math.max(seq, p.s);
      if (p.op === 10) send({ op: 6, d: { token, session_id: session.sessionId, seq: session.seq } });
      else if (p.op === 1) send({ op: 1, d: seq });
      else if (p.op === 9) end(() => resolve(EXPIRED));
      else if (p.op === 7) end(() => reject(new Error('discord: the gateway asked to reconnect while replaying')));
      else if (p.op === 0 && p.t === 'RESUMED') end(() => resolve(messages));
      else if (p.op === 0 && p.t === 'MESSAGE_CREATE' && typeof p.d?.channel_id === 'string' && typeof p.d?.id === 'string') {
        messages.push({ channelId: p.d.channel_id, messageId: p.d.id });
      }
    });
    ws.on('close', (code) => end(() => reject(new Error(`discord: the gateway closed (${code}) before replaying the previous session`))));
    ws.on('error', (err) => end(() => reject(err)));
  });
}
