import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { bareHost } from './url-parts.js';

/**
 * SSRF guard for URLs a client hands us (image URLs, webhook URLs).
 * Our own image fetcher and webhook sender fetch these from inside the operator's network, so
 * loopback, private, link-local and other non-public addresses are refused. Pure functions: no
 * DNS here; `src/services/safe-fetch.ts` resolves, judges every address with
 * {@link checkResolvedUrl} and connects only to what was judged.
 */

export interface SsrfOptions {
  /** Hosts exempt from the address check (SSRF_ALLOW_HOSTS), compared case-insensitively, with or without port. */
  allowHosts: readonly string[];
  /**
   * Which addresses are refused; {@link isBlockedAddress} unless given. Tests on loopback pass
   * their own, so a rebinding answer can be told apart from the vetted one without a real
   * public address.
   */
  isBlocked?: (ip: string) => boolean;
}

export type UrlCheck =
  | { ok: true; url: URL; host: string; /** The host when it is a literal IP address. */ ip: string | undefined; allowed: boolean }
  | { ok: false; reason: string };

/** A URL whose host was resolved once and judged: `addresses` are the only ones to connect to. */
export type ResolvedUrl = { ok: true; url: URL; host: string; addresses: string[]; allowed: boolean } | { ok: false; reason: string };

/** Globally routed IPv6 unicast (IANA); anything outside it is not on the public internet. */
const GLOBAL_V6 = ipaddr.parseCIDR('2000::/3');
/** NAT64 local-use prefix (RFC 8215): translated inside the operator's own network. */
const LOCAL_NAT64 = ipaddr.parseCIDR('64:ff9b:1::/48');

/** The IPv4 address an IPv6 address carries inside it, for the forms that route to one. */
function embeddedV4(v6: ipaddr.IPv6): ipaddr.IPv4[] {
  const b = v6.toByteArray();
  const v4 = (at: number, flip = 0) => new ipaddr.IPv4(b.slice(at, at + 4).map((x) => x ^ flip));
  switch (v6.range()) {
    case 'ipv4Mapped': // ::ffff:a.b.c.d
    case 'rfc6145': // ::ffff:0:a.b.c.d (SIIT)
    case 'rfc6052': // 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64)
      return [v4(12)];
    case '6to4': // 2002:AABB:CCDD::
      return [v4(2)];
    case 'teredo': // 2001:0:<server v4>:…:<client v4 inverted>
      return [v4(4), v4(12, 0xff)];
    default:
      // ::a.b.c.d, the deprecated IPv4-compatible form.
      return b.slice(0, 12).every((x) => x === 0) && !b.slice(12).every((x) => x === 0) ? [v4(12)] : [];
  }
}

/** Only ordinary public unicast addresses are reachable; ipaddr.js names every special range. */
function blocked(addr: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    if (v6.match(LOCAL_NAT64)) return true;
    const inner = embeddedV4(v6);
    if (inner.length) return inner.some(blocked);
    if (!v6.match(GLOBAL_V6)) return true;
  }
  return addr.range() !== 'unicast';
}

/**
 * True when `ip` (an IPv4 or IPv6 literal, brackets allowed) is not a public unicast address:
 * loopback, private, link-local, CGNAT, multicast, reserved, documentation, or an IPv6 form
 * embedding one (IPv4-mapped and -translated, IPv4-compatible, NAT64, 6to4, Teredo), the local-use
 * NAT64 prefix, or IPv6 outside global unicast (2000::/3). Non-IP strings count as blocked.
 */
export function isBlockedAddress(ip: string): boolean {
  const bare = (ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip).split('%')[0] ?? '';
  if (!isIP(bare)) return true;
  return blocked(ipaddr.parse(bare));
}

function isLocalName(host: string): boolean {
  const h = host.replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

function isAllowed(url: URL, opts: SsrfOptions): boolean {
  const candidates = new Set([url.hostname.toLowerCase(), url.host.toLowerCase(), bareHost(url.hostname).toLowerCase()]);
  return opts.allowHosts.some((h) => candidates.has(h.trim().toLowerCase()));
}

/**
 * Judge a URL without resolving it: it must be http(s); a host that is a literal non-public
 * address, or `localhost`, is refused unless listed in `allowHosts`. Hostnames pass here; the
 * code that fetches the URL must still resolve it and call {@link isBlockedAddress}.
 *
 * @example checkUrlLiteral('http://169.254.169.254/latest', { allowHosts: [] }) // { ok: false, … }
 */
export function checkUrlLiteral(raw: string, opts: SsrfOptions): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'must be an http(s) URL' };
  // WHATWG URL parsing already normalises 2130706433, 0x7f.1 and ::ffff:127.0.0.1 forms.
  const host = bareHost(url.hostname).toLowerCase();
  if (!host) return { ok: false, reason: 'must have a host' };
  const ip = isIP(host) ? host : undefined;
  const allowed = isAllowed(url, opts);
  if (!allowed && (isLocalName(host) || (ip !== undefined && (opts.isBlocked ?? isBlockedAddress)(ip)))) {
    return { ok: false, reason: 'must not point at a loopback, private or link-local address' };
  }
  return { ok: true, url, host, ip, allowed };
}

/**
 * For code that fetches the URL itself: the literal check, then the host is resolved ONCE and
 * every address it resolves to must be public (unless the host is allow-listed). The caller
 * connects to `addresses` and nothing else — resolving again could get a different answer (DNS
 * rebinding). `lookup` is passed in (node's dns.lookup with `all: true` in production), so this
 * module stays free of I/O.
 */
export async function checkResolvedUrl(raw: string, opts: SsrfOptions, lookup: (host: string) => Promise<string[]>): Promise<ResolvedUrl> {
  const literal = checkUrlLiteral(raw, opts);
  if (!literal.ok) return literal;
  const { url, host, allowed } = literal;
  if (literal.ip !== undefined) return { ok: true, url, host, allowed, addresses: [literal.ip] };
  let addresses: string[];
  try {
    addresses = await lookup(host);
  } catch {
    return { ok: false, reason: 'host could not be resolved' };
  }
  if (addresses.length === 0) return { ok: false, reason: 'host could not be resolved' };
  if (!allowed && addresses.some(opts.isBlocked ?? isBlockedAddress)) {
    return { ok: false, reason: 'resolves to a loopback, private or link-local address' };
  }
  return { ok: true, url, host, allowed, addresses };
}
