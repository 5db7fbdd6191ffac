/**
 * The fake proxy as a process of its own (`npm run chaos -- --proxy [socks]`): relaying every
 * outbound call of the instances would otherwise load the run's own event loop, which also plays
 * every platform. A forward proxy (test/fakes/proxy.ts), or a SOCKS5 relay (test/fakes/socks.ts)
 * given `socks`. Prints its address, and on SIGTERM what it carried, as JSON lines.
 */
import { startFakeProxy } from '../fakes/proxy.js';
import { startFakeSocks } from '../fakes/socks.js';

const [credentials, kind] = process.argv.slice(2) as [string, string | undefined];
const proxy = kind === 'socks' ? await startFakeSocks({ credentials }) : await startFakeProxy({ credentials });
process.stdout.write(`${JSON.stringify({ url: proxy.url })}\n`);
process.once('SIGTERM', () => {
  // A SOCKS relay is asked for host:port and records only what came with the right login.
  const seen =
    'port' in proxy
      ? proxy.seen.map((r) => ({ method: 'SOCKS', target: r.target, auth: r.user !== undefined, firstLine: r.firstLine }))
      : proxy.seen.map((r) => ({ method: r.method, target: r.target, auth: Boolean(r.auth) }));
  process.stdout.write(`${JSON.stringify({ seen, connections: proxy.connections() })}\n`, () => void proxy.close().then(() => process.exit(0)));
});
