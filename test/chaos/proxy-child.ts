/**
 * The fake forward proxy as a process of its own (`npm run chaos -- --proxy`): relaying every
 * outbound call of the instances would otherwise load the run's own event loop, which also plays
 * every platform. Prints its address, and on SIGTERM what it carried, as JSON lines.
 */
import { startFakeProxy } from '../fakes/proxy.js';

const proxy = await startFakeProxy({ credentials: process.argv[2]! });
process.stdout.write(`${JSON.stringify({ url: proxy.url })}\n`);
process.once('SIGTERM', () => {
  const report = { seen: proxy.seen.map((r) => ({ method: r.method, target: r.target, auth: Boolean(r.auth) })), connections: proxy.connections() };
  process.stdout.write(`${JSON.stringify(report)}\n`, () => void proxy.close().then(() => process.exit(0)));
});
