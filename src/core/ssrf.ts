import { isIP } from 'node:net';

/**
 * SSRF guard for URLs a client hands us (image URLs now, webhook URLs in the proactive issue).
 * A self-hosted model server or our own webhook sender would fetch these from inside the
 * operator's network, so loopback, private, link-local and other non-public addresses are
 * refused. Pure functions: no DNS here. Callers that fetch a URL themselves resolve the host
 * and pass every resolved address through {@link isBlockedAddress} (see {@link checkResolvedUrl}).
 */

export interface SsrfOptions {
  /** Hosts exempt from the address check (SSRF_ALLOW_HOSTS), compared case-insensitively, with or without port. */
  allowHosts: readonly string[];
}

export type UrlCheck =
  | { ok: true; url: URL; host: string; /** The host when it is a literal IP address. */ ip: string | undefined; allowed: boolean }
  | { ok: false; reason: string };

/** IPv4 ranges that are not the public internet (RFC 6890 special-purpose registry, abridged). */
const V4_BLOCKED: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata lives here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;
}

function inV4Range(ip: number, base: string, bits: number): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (ip & mask) === (v4ToInt(base) & mask);
}

function v4Blocked(ip: string): boolean {
  const n = v4ToInt(ip);
  return V4_BLOCKED.some(([base, bits]) => inV4Range(n, base, bits));
}

/** Expand an IPv6 literal (an embedded IPv4 tail allowed) to eight 16-bit groups. */
function v6Groups(ip: string): number[] {
  let s = ip.toLowerCase().split('%')[0] ?? '';
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const n = v4ToInt(tail);
    s = `${s.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  const parse = (part: string) => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const a = parse(halves[0] ?? '');
  if (halves.length === 1) return a;
  const b = parse(halves[1] ?? '');
  return [...a, ...new Array<number>(Math.max(0, 8 - a.length - b.length)).fill(0), ...b];
}

function groupsToV4(hi: number, lo: number): string {
  return `${hi >>> 8}.${hi & 0xff}.${lo >>> 8}.${lo & 0xff}`;
}

function v6Blocked(ip: string): boolean {
  const g = v6Groups(ip);
  if (g.length !== 8) return true; // unparseable: refuse rather than guess
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(8)) return true; // :: unspecified
  if (zeroUpTo(7) && g7 === 1) return true; // ::1 loopback
  if (zeroUpTo(5) && g5 === 0xffff) return v4Blocked(groupsToV4(g6, g7)); // ::ffff:a.b.c.d IPv4-mapped
  if (zeroUpTo(6)) return v4Blocked(groupsToV4(g6, g7)); // ::a.b.c.d IPv4-compatible (deprecated)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4Blocked(groupsToV4(g6, g7)); // NAT64
  if (g0 === 0x2002) return v4Blocked(groupsToV4(g1, g2)); // 6to4 embeds an IPv4 address
  if ((g0 & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  if ((g0 & 0xffc0) === 0xfec0) return true; // fec0::/10 site-local (deprecated)
  if ((g0 & 0xff00) === 0xff00) return true; // multicast
  if (g0 === 0x2001 && g1 === 0x0db8) return true; // documentation
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return true; // discard-only
  return false;
}

/**
 * True when `ip` (an IPv4 or IPv6 literal, brackets allowed) is not a public unicast address:
 * loopback, private, link-local, CGNAT, multicast, reserved, or an IPv6 form embedding one
 * (IPv4-mapped, IPv4-compatible, NAT64, 6to4). Non-IP strings count as blocked.
 */
export function isBlockedAddress(ip: string): boolean {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = isIP(bare.split('%')[0] ?? '');
  if (family === 4) return v4Blocked(bare);
  if (family === 6) return v6Blocked(bare);
  return true;
}

function isLocalName(host: string): boolean {
  const h = host.replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

function isAllowed(url: URL, opts: SsrfOptions): boolean {
  const candidates = new Set([url.hostname.toLowerCase(), url.host.toLowerCase(), url.hostname.replace(/^\[|\]$/g, '').toLowerCase()]);
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
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!host) return { ok: false, reason: 'must have a host' };
  const ip = isIP(host) ? host : undefined;
  const allowed = isAllowed(url, opts);
  if (!allowed && (isLocalName(host) || (ip !== undefined && isBlockedAddress(ip)))) {
    return { ok: false, reason: 'must not point at a loopback, private or link-local address' };
  }
  return { ok: true, url, host, ip, allowed };
}

/**
 * For code that fetches the URL itself (the webhook sender): the literal check, then every
 * address the host resolves to must be public. `lookup` is passed in (node's dns.lookup with
 * `all: true` in production), so this module stays free of I/O.
 */
export async function checkResolvedUrl(
  raw: string,
  opts: SsrfOptions,
  lookup: (host: string) => Promise<string[]>,
): Promise<UrlCheck> {
  const literal = checkUrlLiteral(raw, opts);
  if (!literal.ok || literal.allowed || literal.ip !== undefined) return literal;
  let addresses: string[];
  try {
    addresses = await lookup(literal.host);
  } catch {
    return { ok: false, reason: 'host could not be resolved' };
  }
  if (addresses.length === 0) return { ok: false, reason: 'host could not be resolved' };
  if (addresses.some(isBlockedAddress)) return { ok: false, reason: 'resolves to a loopback, private or link-local address' };
  return literal;
}
