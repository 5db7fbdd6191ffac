/**
 * The parts of a URL that `net.connect` and DNS lookups take, which WHATWG URL gives in another
 * form: an IPv6 host comes in brackets, and a scheme's own port comes as ''.
 */

/** `[::1]` → `::1`; any other host as it is. */
export const bareHost = (hostname: string): string => hostname.replace(/^\[|\]$/g, '');

const SCHEME_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443 };

/** The port a URL (or anything with its `protocol` and `port`) means: its own, or its scheme's; 0 when neither says. */
export function portOf(u: { protocol: string; port: string }): number {
  return Number(u.port) || SCHEME_PORTS[u.protocol] || 0;
}
