import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { checkResolvedUrl } from '../core/ssrf.js';
import { isSocks, proxyFor, proxyPort, type ProxySettings } from '../core/proxy.js';
import { bareHost, portOf } from '../core/url-parts.js';

/** Resolve a host to every address it has. */
export type Resolve = (host: string) => Promise<string[]>;

/** Start a timer that calls `fire` after `ms`; returns what cancels it. Tests fire it by hand. */
export type StartTimer = (ms: number, fire: () => void) => () => void;

/** The system resolver, every address of every family (what `getaddrinfo` gives a connect). */
export const systemResolve: Resolve = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** A real timer that does not keep the process alive on its own. */
export const realTimer: StartTimer = (ms, fire) => {
  const t = setTimeout(fire, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** Who may be reached and how names are resolved; one per caller (images, webhooks). */
export interface SafeFetchPolicy {
  /** SSRF_ALLOW_HOSTS: exempt from the address check (still resolved once and pinned). */
  allowHosts: readonly string[];
  /** Defaults to {@link systemResolve}; tests pin names to loopback. */
  resolve?: Resolve | undefined;
  /** Defaults to {@link realTimer}. */
  timer?: StartTimer | undefined;
  /** Defaults to `isBlockedAddress`; see `SsrfOptions.isBlocked`. */
  isBlocked?: ((ip: string) => boolean) | undefined;
  /** The outbound proxy (HTTPS_PROXY…); the vetted address, not the name, is what it is asked for. */
  proxy?: ProxySettings | undefined;
}

export interface SafeRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string | number>;
  body?: Buffer;
  /** For the whole exchange — resolving, connecting, TLS, the answer and its body — not per read. */
  deadlineMs: number;
  /** Most body bytes read, counted as they arrive; 0 reads none (the answer is only its status). */
  maxBytes: number;
}

export interface SafeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Why a URL was not fetched, as a phrase that follows the field's name ("imageUrl …", "webhookUrl …"). */
export class SafeFetchError extends Error {
  override name = 'SafeFetchError';
}

/**
 * Fetch a URL a client gave us without letting it reach inside our network. The host is resolved
 * once, every address is judged (`checkResolvedUrl`), and the connection goes to those addresses
 * only (a pinned lookup), so a second DNS answer cannot redirect it. Redirects are refused rather
 * than followed (the target would escape the check), no connection is reused, the body is
 * counted as it streams (Content-Length is not trusted), and one deadline covers everything.
 *
 * @example
 * const res = await safeFetch('https://cdn.example.com/cat.png', { method: 'GET', deadlineMs: 10_000, maxBytes: 5 << 20 }, { allowHosts: [] });
 */
export async function safeFetch(raw: string, req: SafeRequest, policy: SafeFetchPolicy): Promise<SafeResponse> {
  const deadline = new AbortController();
  const cancel = (policy.timer ?? realTimer)(req.deadlineMs, () => deadline.abort());
  try {
    const check = await untilAborted(
      checkResolvedUrl(raw, { allowHosts: policy.allowHosts, isBlocked: policy.isBlocked }, policy.resolve ?? systemResolve),
      deadline.signal,
    );
    if (!check.ok) throw new SafeFetchError(check.reason);
    const proxy = policy.proxy ? proxyFor(policy.proxy, check.url) : undefined;
    const via = proxy ? await throughProxy(check.url, check.addresses[0]!, proxy, req) : undefined;
    return await exchange(check.url, check.addresses, req, deadline.signal, via);
  } catch (err) {
    if (deadline.signal.aborted) throw new SafeFetchError(`took longer than ${seconds(req.deadlineMs)}`);
    throw err;
  } finally {
    cancel();
  }
}

type Sender = typeof httpRequest;

function exchange(url: URL, addresses: string[], req: SafeRequest, signal: AbortSignal, via?: { send: Sender; options: object }): Promise<SafeResponse> {
  const { send, options } = via ?? { send: url.protocol === 'https:' ? httpsRequest : httpRequest, options: { method: req.method, headers: req.headers ?? {}, lookup: pinned(addresses), agent: false as const } };
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(err);
    const r = send(url, { ...options, signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        res.destroy();
        return fail(new SafeFetchError(`redirects elsewhere (HTTP ${status}); redirects are not followed, give the final URL`));
      }
      if (req.maxBytes === 0) {
        res.destroy();
        return resolve({ status, headers: res.headers, body: Buffer.alloc(0) });
      }
      readCapped(res, req.maxBytes).then((body) => resolve({ status, headers: res.headers, body }), fail);
    });
    r.on('error', (err: NodeJS.ErrnoException) => fail(err instanceof SafeFetchError ? err : new SafeFetchError(`could not be reached (${err.code ?? err.message})`)));
    r.end(req.body);
  });
}

/**
 * The request's options when a proxy carries it. The proxy is asked for the vetted address, never
 * the name, so the proxy's own DNS cannot send it elsewhere: a TLS target through a CONNECT tunnel
 * (or a SOCKS5 relay) to that address (its certificate still checked against the name), a plain
 * one in absolute form naming the address, with the name in Host (through SOCKS5, relayed to the
 * address like a TLS one). (`hostname`, not `host`: it must win over the URL's own.)
 */
async function throughProxy(url: URL, address: string, proxy: string, req: SafeRequest): Promise<{ send: Sender; options: object }> {
  const ip = address.includes(':') ? `[${address}]` : address;
  const port = portOf(url);
  const headers = { ...req.headers, host: url.host };
  if (url.protocol === 'https:' || isSocks(proxy)) {
    const { pinnedTunnel } = await import('../core/proxy-network.js');
    const options = { method: req.method, hostname: address, port, servername: url.hostname, path: `${url.pathname}${url.search}`, headers, agent: pinnedTunnel(proxy) };
    return { send: url.protocol === 'https:' ? httpsRequest : httpRequest, options };
  }
  const p = new URL(proxy);
  const auth = p.username || p.password ? { 'proxy-authorization': `Basic ${Buffer.from(`${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`).toString('base64')}` } : {};
  const options = {
    method: req.method,
    protocol: p.protocol,
    hostname: bareHost(p.hostname),
    port: proxyPort(p),
    path: `http://${ip}:${port}${url.pathname}${url.search}`,
    headers: { ...headers, ...auth },
    agent: false as const,
  };
  return { send: p.protocol === 'https:' ? httpsRequest : httpRequest, options };
}

function readCapped(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new SafeFetchError(`is larger than ${bytes(maxBytes)}`);
    if (Number(res.headers['content-length'] ?? 0) > maxBytes) {
      res.destroy();
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        res.destroy();
        reject(tooLarge());
      } else chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks, size)));
    res.on('error', (err: NodeJS.ErrnoException) => reject(new SafeFetchError(`could not be reached (${err.code ?? err.message})`)));
  });
}

/** A lookup that answers with the vetted addresses whatever it is asked. */
function pinned(addresses: string[]): LookupFunction {
  const all: LookupAddress[] = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  return (_host, options, cb) => {
    if (options.all) (cb as (err: null, list: LookupAddress[]) => void)(null, all);
    else cb(null, all[0]!.address, all[0]!.family);
  };
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function bytes(n: number): string {
  return n % 1_048_576 === 0 ? `${n / 1_048_576} MB` : n % 1024 === 0 ? `${n / 1024} KB` : `${n} bytes`;
}
