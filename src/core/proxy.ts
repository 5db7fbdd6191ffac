/**
 * The outbound proxy, as curl and most tools read it from the environment: `HTTPS_PROXY` for
 * `https://` and `wss://` targets, `HTTP_PROXY` for `http://` and `ws://`, `ALL_PROXY` for
 * either when its own is unset, the lower-case spelling first; `NO_PROXY` lists the hosts reached
 * directly. A proxy is an HTTP one (`http://`, `https://`) or SOCKS5 (`socks5://`, names resolved
 * here; `socks5h://`, names resolved by the proxy, as curl reads them). This file only decides,
 * per target, which proxy (if any) carries it; the agents that do the carrying are in
 * ./network.ts.
 */

import { bareHost, portOf } from './url-parts.js';

export interface ProxySettings {
  /** Proxy for `http://` and `ws://` targets; '' for none. */
  httpProxy: string;
  /** Proxy for `https://` and `wss://` targets; '' for none. */
  httpsProxy: string;
  /** Comma- or space-separated hosts reached directly: `host`, `.domain` or `*.domain`, `host:port`, or `*`. */
  noProxy: string;
  /** Which variable set each proxy, for messages. */
  from: { http?: string; https?: string };
}

/** The variables read (each in either case). */
export const PROXY_VARIABLES = ['HTTPS_PROXY', 'HTTP_PROXY', 'ALL_PROXY', 'NO_PROXY'];

/** The variable names read, in order of precedence, for each kind of target. */
const SOURCES = {
  http: ['http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'],
  https: ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'],
} as const;

const blank = (v: string | undefined) => v === undefined || v.trim() === '';

/**
 * Read the proxy variables. A value without a scheme (`proxy.corp:3128`) means `http://`, as
 * curl takes it. Returns problems (the variable, what is wrong, the fix) instead of throwing, so
 * the configuration can report them with the rest.
 */
export function readProxySettings(env: NodeJS.ProcessEnv): { settings: ProxySettings; problems: string[] } {
  const problems: string[] = [];
  const pick = (names: readonly string[]): { value: string; name?: string } => {
    // A variable set to nothing (`HTTPS_PROXY=`) asks for no proxy and stops the search, as in curl.
    for (const name of names) {
      const v = env[name];
      if (v === undefined) continue;
      if (blank(v)) return { value: '' };
      const value = v.trim();
      const problem = checkProxyUrl(name, value);
      if (problem) {
        problems.push(problem);
        return { value: '' };
      }
      return { value: /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`, name };
    }
    return { value: '' };
  };
  const http = pick(SOURCES.http);
  const https = pick(SOURCES.https);
  const noProxy = (env.no_proxy ?? env.NO_PROXY ?? '').trim();
  return {
    settings: {
      httpProxy: http.value,
      httpsProxy: https.value,
      noProxy,
      from: { ...(http.name ? { http: http.name } : {}), ...(https.name ? { https: https.name } : {}) },
    },
    problems,
  };
}

function checkProxyUrl(name: string, value: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return `  ${name}: not a proxy address (got ${JSON.stringify(redactProxy(value))}). Write it as http://host:port, or http://user:password@host:port.`;
  }
  if (/^socks4a?:$/i.test(u.protocol) || u.protocol === 'socks:') {
    return `  ${name}: only SOCKS version 5 is supported, written socks5:// (names resolved here) or socks5h:// (names resolved by the proxy) (got ${JSON.stringify(redactProxy(value))}).`;
  }
  if (!['http:', 'https:', 'socks5:', 'socks5h:'].includes(u.protocol)) {
    return `  ${name}: only http://, https://, socks5:// and socks5h:// proxies are supported, not ${u.protocol.replace(':', '')}:// (got ${JSON.stringify(redactProxy(value))}). Point it at an HTTP proxy (for example http://proxy.example:3128) or a SOCKS5 one (socks5h://127.0.0.1:1080), or unset it.`;
  }
  if (!u.hostname) return `  ${name}: the proxy address names no host (got ${JSON.stringify(redactProxy(value))}). Write it as http://host:port.`;
  return undefined;
}

/** A proxy address fit for a log line: the password replaced by `***`. */
export function redactProxy(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** The proxy's password, if its address carries one (the logger scrubs it). */
export function proxyPasswords(s: ProxySettings): string[] {
  const out: string[] = [];
  for (const url of [s.httpProxy, s.httpsProxy]) {
    try {
      const p = decodeURIComponent(new URL(url).password);
      if (p.length >= 6) out.push(p, new URL(url).password);
    } catch {
      // no address, nothing to scrub
    }
  }
  return [...new Set(out)];
}

/**
 * The proxy that carries `target`, or undefined when it goes direct: no proxy for its scheme, or
 * its host listed in NO_PROXY (the same matching as undici's and curl's: an entry matches the
 * host itself and its subdomains, a leading `.` or `*.` is dropped, `:port` narrows it to that port).
 */
export function proxyFor(settings: ProxySettings, target: string | URL): string | undefined {
  const u = typeof target === 'string' ? new URL(target) : target;
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  const proxy = secure ? settings.httpsProxy : settings.httpProxy;
  if (!proxy) return undefined;
  const host = bareHost(u.hostname).toLowerCase();
  const port = portOf(u);
  return bypassed(settings.noProxy, host, port) ? undefined : proxy;
}

function bypassed(noProxy: string, host: string, port: number): boolean {
  if (!noProxy) return false;
  if (noProxy === '*') return true;
  for (const raw of noProxy.split(/[,\s]+/)) {
    if (!raw) continue;
    const m = /^(.+):(\d+)$/.exec(raw);
    if (m && Number(m[2]) !== port) continue;
    const entry = bareHost(m ? m[1]! : raw).replace(/^\*?\./, '').toLowerCase();
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/** A SOCKS5 proxy (a raw relay for any target, as `ssh -D` or Tor give), not an HTTP one. */
export const isSocks = (proxy: string) => /^socks5h?:/i.test(proxy);

/** The port a proxy address without one means: SOCKS's 1080, an HTTP proxy's scheme's own. */
export function proxyPort(proxy: URL): number {
  return isSocks(proxy.protocol) ? Number(proxy.port) || 1080 : portOf(proxy);
}

/** Whether any proxy is set. */
export const proxying = (s: ProxySettings) => Boolean(s.httpProxy || s.httpsProxy);

/** Loopback hosts: a model or platform on this machine, which a proxy elsewhere cannot reach. */
export function isLoopback(target: string): boolean {
  try {
    const h = bareHost(new URL(target).hostname).toLowerCase();
    return h === 'localhost' || h.endsWith('.localhost') || /^127\./.test(h) || h === '::1';
  } catch {
    return false;
  }
}
