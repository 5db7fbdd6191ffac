import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SocksClient, type SocksProxy } from 'socks';
import { buildConnector } from 'undici';
import { proxyPort } from './proxy.js';
import { bareHost, portOf } from './url-parts.js';

/** How long the proxy may take to open a connection to a target (its handshake included). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * An undici connector that opens each connection through a SOCKS5 proxy, then speaks TLS over it
 * for an `https:` origin (a `wss:` one arrives as `https:`), as undici does over a CONNECT tunnel.
 * undici's own Socks5ProxyAgent is marked experimental and warns on every start, so the
 * connection is opened with `socks`, the library socks-proxy-agent uses for the node agents.
 *
 * `socks5://` resolves the target's name here and hands the proxy an address; `socks5h://` hands
 * the proxy the name, for a network whose own DNS answers no outside name (curl's reading).
 */
export function socksConnector(proxyUrl: string): buildConnector.connector {
  const u = new URL(proxyUrl);
  const proxy: SocksProxy = {
    host: bareHost(u.hostname),
    port: proxyPort(u),
    type: 5,
    ...(u.username ? { userId: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
  const namesHere = u.protocol === 'socks5:';
  const tls = buildConnector({});
  return (opts, callback) => {
    const host = bareHost(opts.hostname);
    const port = portOf(opts);
    const open = async () => {
      const target = namesHere && !isIP(host) ? (await lookup(host)).address : host;
      const { socket } = await SocksClient.createConnection({ proxy, command: 'connect', destination: { host: target, port }, timeout: CONNECT_TIMEOUT_MS });
      return socket;
    };
    open().then(
      (socket) => (opts.protocol === 'https:' ? tls({ ...opts, httpSocket: socket }, callback) : callback(null, socket)),
      (err: Error) => callback(err, null),
    );
  };
}
