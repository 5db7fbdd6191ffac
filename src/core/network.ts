import type { Agent } from 'node:http';
import type { Dispatcher } from 'undici';
import { keepAliveFetch } from './http-fetch.js';
import { proxying, type ProxySettings } from './proxy.js';

/** The `fetch` shape the SDKs that take one are given (typed loosely; see http-fetch.ts). */
export type SdkFetch = (url: string | URL, init?: object) => Promise<unknown>;

/**
 * How charbridge reaches the model and the platforms: directly, or through the outbound proxy
 * (./proxy.ts decides which targets). Each library takes its connection in its own form, so the
 * same decision is offered three ways. Built once at start and passed in; nothing here is kept
 * in a module. The proxy's side (./proxy-network.ts, undici and the proxy agents) is loaded only
 * when a proxy is set: a deployment without one never loads it.
 */
export interface Network {
  /** For the SDKs that take a `fetch` (openai, Slack's WebClient): keep-alive, through the proxy where one applies. */
  readonly fetch: SdkFetch;
  /** An http.Agent for a library given one agent for one origin (telegraf); undefined: its own. */
  agentFor(target: string): Agent | undefined;
  /**
   * An undici dispatcher for a library built on undici (discord.js's REST, Slack's Socket Mode,
   * Node's fetch), routing each request by its origin; undefined when no proxy is set, so each
   * library keeps its own defaults.
   */
  readonly dispatcher: Dispatcher | undefined;
  close(): Promise<void>;
}

/** No proxy: what charbridge did before one could be set. */
export const directNetwork: Network = {
  fetch: (url, init) => keepAliveFetch(url, init),
  agentFor: () => undefined,
  dispatcher: undefined,
  close: async () => undefined,
};

/** The network for these settings: direct without a proxy. */
export async function createNetwork(settings: ProxySettings): Promise<Network> {
  if (!proxying(settings)) return directNetwork;
  const { proxiedNetwork } = await import('./proxy-network.js');
  return proxiedNetwork(settings);
}
