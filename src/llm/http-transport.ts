import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import nodeFetch from 'node-fetch';

/**
 * The `fetch` the openai SDK is given: node-fetch over node:http keep-alive agents instead of
 * Node's built-in fetch. The built-in one (undici) hands every streamed chunk through WHATWG
 * streams and transferable wrappers; for a reply of 40 streamed chunks that cost about 0.5–0.9 ms
 * more CPU per call on this project's machines (a separate-process measure, 1000 calls at 25 at
 * once), which was a tenth of a whole Telegram turn. node-fetch hands the SDK a Node stream, which
 * the SDK iterates directly. The SDK still owns retries, timeouts (through the signal) and errors.
 */
const agents = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
};

/** Typed loosely: the SDK's `Fetch` names the DOM's Request and Response, node-fetch its own look-alikes. */
export function modelFetch(url: string | URL, init?: object): Promise<unknown> {
  return nodeFetch(String(url), { ...init, agent: (u: URL) => (u.protocol === 'http:' ? agents.http : agents.https) });
}
