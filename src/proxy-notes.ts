import { connect } from 'node:net';
import type { Config } from './config.js';
import { isLoopback, proxyFor, proxying, proxyPort, redactProxy, type ProxySettings } from './core/proxy.js';
import { bareHost } from './core/url-parts.js';

/**
 * What the start-up log says about the outbound proxy: where calls go (once, at info), and
 * settings to fix (also in the banner's next steps). Nothing when no proxy is set.
 */
export function proxyNotes(config: Config): { info?: string; fixes: string[] } {
  const s = config.proxy;
  if (!proxying(s)) return { fixes: [] };
  const parts = [
    s.httpsProxy ? `https:// through ${redactProxy(s.httpsProxy)} (${s.from.https})` : 'https:// directly',
    s.httpProxy ? `http:// through ${redactProxy(s.httpProxy)} (${s.from.http})` : 'http:// directly',
  ];
  const info = `Outbound calls (model, platforms, downloads, webhooks, image URLs): ${parts.join(', ')}${s.noProxy ? `; NO_PROXY: ${s.noProxy}` : ''}.`;
  const fixes: string[] = [];
  // A proxy on another machine cannot reach this one's loopback: a local model (Ollama, vLLM) or
  // a local Bot API server would time out with nothing pointing at the proxy.
  const endpoints: Array<[string, string | undefined]> = [
    ['OPENAI_BASE_URL', config.model.offline ? undefined : config.model.baseURL],
    ['TELEGRAM_API_ROOT', config.telegram?.apiRoot],
    ['DISCORD_API_URL', config.discord?.apiUrl],
    ['SLACK_API_URL', config.slack?.apiUrl],
  ];
  for (const [name, url] of endpoints) {
    if (!url || !isLoopback(url)) continue;
    const proxy = proxyFor(s, url);
    if (proxy && !isLoopback(proxy)) {
      const host = new URL(url).hostname;
      fixes.push(`${name} (${url}) is on this machine but would go through the proxy ${redactProxy(proxy)}, which cannot reach it: add ${host} to NO_PROXY.`);
    }
  }
  return { info, fixes };
}

/**
 * Whether each proxy set answers a connection at all, asked once at start (at most `timeoutMs`
 * each, side by side): a mistyped proxy address otherwise shows only as every platform's own
 * failure, none of which names the variable. A line per proxy that does not, for the log and the
 * banner; none when all do. Its login is not tried: that would take a call through it.
 */
export async function unreachableProxies(s: ProxySettings, timeoutMs = 2000): Promise<string[]> {
  const proxies = new Map<string, string>();
  if (s.httpsProxy) proxies.set(s.httpsProxy, s.from.https ?? 'HTTPS_PROXY');
  if (s.httpProxy && !proxies.has(s.httpProxy)) proxies.set(s.httpProxy, s.from.http ?? 'HTTP_PROXY');
  const answers = await Promise.all(
    [...proxies].map(async ([url, name]) => {
      const why = await tryConnect(new URL(url), timeoutMs);
      return why ? `${name}: the proxy ${redactProxy(url)} cannot be reached (${why}); every call through it fails until it can. Check the address and port.` : undefined;
    }),
  );
  return answers.filter((a): a is string => a !== undefined);
}

function tryConnect(u: URL, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: bareHost(u.hostname), port: proxyPort(u) });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs / 1000} s`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
