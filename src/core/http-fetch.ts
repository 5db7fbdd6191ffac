import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import nodeFetch from 'node-fetch';

// An idle connection is closed after 4 s, as Node's built-in fetch does (sooner when the server's
// Keep-Alive header asks): a server that closes idle connections first would otherwise race the
// next request onto a dying socket. Only idle sockets time out; a slow answer does not.
const IDLE_MS = 4_000;
/** How every keep-alive agent here keeps its connections, the proxy's too (./proxy-network.ts). */
export const KEEP_ALIVE = { keepAlive: true, timeout: IDLE_MS } as const;
const httpAgent = new HttpAgent(KEEP_ALIVE);
const httpsAgent = new HttpsAgent(KEEP_ALIVE);
/** The direct keep-alive agent for a target: what a request not carried by a proxy uses. */
export const keepAliveAgentFor = (u: URL) => (u.protocol === 'http:' || u.protocol === 'ws:' ? httpAgent : httpsAgent);

/**
 * The `fetch` given to the SDKs that take one (openai, Slack's WebClient): node-fetch over
 * node:http keep-alive agents instead of Node's built-in fetch. The built-in one (undici) passes
 * every response, and every streamed chunk, through WHATWG streams and transferable wrappers: for a
 * model reply of 40 streamed chunks that cost 0.5–0.9 ms more CPU per call (a separate-process
 * measure, 1000 calls at 25 at once), and about 15% of a whole Telegram turn under load.
 * node-fetch hands the SDKs a Node stream, which they iterate directly. The SDKs still own
 * retries, timeouts (through the signal) and error mapping. The only importer of node-fetch.
 *
 * Typed loosely: each SDK's `fetch` type names its own Request and Response shapes; callers cast.
 * `agent` picks each request's agent (./network.ts passes one that knows the proxy).
 */
export function keepAliveFetch(url: string | URL, init?: object, agent: (u: URL) => HttpAgent = keepAliveAgentFor): Promise<unknown> {
  return nodeFetch(String(url), { ...init, agent });
}
