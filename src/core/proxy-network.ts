import type { Agent } from 'node:http';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { LRUCache } from 'lru-cache';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { Agent as UndiciAgent, Dispatcher, ProxyAgent } from 'undici';
import { KEEP_ALIVE, keepAliveAgentFor, keepAliveFetch } from './http-fetch.js';
import type { Network } from './network.js';
import { isSocks, proxyFor, type ProxySettings } from './proxy.js';
import { socksConnector } from './socks-connect.js';
import { bareHost } from './url-parts.js';

/**
 * The network through an outbound proxy (./network.ts says what each part is for): the only
 * importer of undici and of the proxy agents, loaded only when a proxy is set. An HTTP proxy is
 * asked in its two ways (below); a SOCKS5 proxy relays a connection to any target, which is then
 * spoken to as if directly (TLS included).
 */
export function proxiedNetwork(settings: ProxySettings): Network {
  // Which proxy carries an origin, decided once per origin: every model call and platform call
  // would otherwise parse NO_PROXY again. '' means directly.
  const decided = new LRUCache<string, string>({ max: 256 });
  const route = (origin: string): string | undefined => {
    let proxy = decided.get(origin);
    if (proxy === undefined) decided.set(origin, (proxy = proxyFor(settings, origin) ?? ''));
    return proxy || undefined;
  };
  // One agent per proxy and kind, kept alive like the direct ones (idle connections closed after
  // 4 s, before a proxy's own idle timeout can race a request onto them): a CONNECT per call
  // would add a round trip to every model call.
  const nodeAgents = new Map<string, Agent>();
  const nodeAgentFor = (target: URL): Agent => {
    // node-fetch hands the agent function url.parse()'s object, which has no `origin`.
    const proxy = route(`${target.protocol}//${target.host}`);
    if (!proxy) return keepAliveAgentFor(target);
    // A plain-http target goes in absolute form, as curl sends it: a firewall's proxy often
    // allows CONNECT only to port 443. A WebSocket's upgrade cannot be forwarded that way, so a
    // `ws:` target is tunnelled like the secure ones.
    const kind = isSocks(proxy) ? 'socks' : target.protocol === 'http:' ? 'forward' : 'tunnel';
    const key = `${kind} ${proxy}`;
    let agent = nodeAgents.get(key);
    if (!agent) {
      agent = kind === 'socks' ? socksAgent(proxy, true) : kind === 'tunnel' ? new HttpsProxyAgent(proxy, KEEP_ALIVE) : new HttpProxyAgent(proxy, KEEP_ALIVE);
      nodeAgents.set(key, agent);
    }
    return agent;
  };
  const dispatcher = new RoutedDispatcher(route);
  return {
    fetch: (url, init) => keepAliveFetch(url, init, nodeAgentFor),
    agentFor: (target) => {
      const u = new URL(target);
      return route(u.origin) ? nodeAgentFor(u) : undefined;
    },
    dispatcher,
    close: async () => {
      for (const a of nodeAgents.values()) a.destroy();
      await dispatcher.close();
    },
  };
}

/**
 * An agent that opens one tunnel for one request (a CONNECT, or a SOCKS relay), to the host the
 * request names (an address the caller vetted; see ../services/safe-fetch.ts), and keeps nothing
 * open after it.
 */
export function pinnedTunnel(proxy: string): Agent {
  return isSocks(proxy) ? socksAgent(proxy, false) : new HttpsProxyAgent(proxy, { keepAlive: false });
}

/**
 * A node agent through a SOCKS5 proxy, for any target. socks-proxy-agent reads its `timeout`
 * option as a deadline on each connection and destroys the request at it (a model slow to send
 * its first token); only the agent's own idle timeout is wanted, as for the other agents, so it
 * is set on the agent's options after construction, where node's http.Agent reads it. It also
 * keeps an IPv6 proxy's address in its URL brackets, which no connect resolves.
 */
function socksAgent(proxy: string, keepAlive: boolean): Agent {
  const agent = new SocksProxyAgent(proxy, { keepAlive });
  if (keepAlive) agent.options.timeout = KEEP_ALIVE.timeout;
  if (agent.proxy.host) agent.proxy.host = bareHost(agent.proxy.host);
  return agent;
}

/**
 * An undici dispatcher that sends each request to the proxy ./proxy.ts picks for its origin, or
 * directly: the same rule as the node agents above, where undici's own EnvHttpProxyAgent would
 * apply its own reading of the variables and knows no ALL_PROXY.
 */
class RoutedDispatcher extends Dispatcher {
  private readonly direct = new UndiciAgent();
  private readonly proxies = new Map<string, Dispatcher>();

  constructor(private readonly route: (origin: string) => string | undefined) {
    super();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = String(opts.origin ?? '');
    const proxy = origin ? this.route(origin) : undefined;
    // A plain-http request goes in absolute form rather than a tunnel, as for the node agents; a
    // WebSocket's upgrade cannot be forwarded that way, so it is tunnelled.
    return this.pick(proxy, !opts.upgrade).dispatch(opts, handler);
  }

  private pick(proxy: string | undefined, forward: boolean): Dispatcher {
    if (!proxy) return this.direct;
    const socks = isSocks(proxy);
    const key = `${socks ? 'socks' : forward ? 'forward' : 'tunnel'} ${proxy}`;
    let agent = this.proxies.get(key);
    if (!agent) {
      agent = socks ? new UndiciAgent({ connect: socksConnector(proxy) }) : new ProxyAgent({ uri: proxy, proxyTunnel: !forward });
      this.proxies.set(key, agent);
    }
    return agent;
  }

  override async close(): Promise<void> {
    await Promise.all([this.direct.close(), ...[...this.proxies.values()].map((p) => p.close())]);
  }

  override async destroy(): Promise<void> {
    await Promise.all([this.direct.destroy(), ...[...this.proxies.values()].map((p) => p.destroy())]);
  }
}
