/**
 * A process where discord.js was loaded before charbridge's Discord transport (so before the
 * gateway socket could take the proxy's agent): the transport logs in through a proxy and says
 * its gateway went around it. Prints what it saw as one JSON line. Run by gateway-socket.test.ts.
 */
import 'discord.js';
import { createNetwork } from '../../../src/core/network.js';
import { readProxySettings } from '../../../src/core/proxy.js';
import { startFakeDiscord } from '../../fakes/discord.js';
import { startFakeProxy } from '../../fakes/proxy.js';

const { DiscordTransport } = await import('../../../adapters/discord/transport.js');
const fake = await startFakeDiscord({ heartbeatIntervalMs: 3_600_000 });
const proxy = await startFakeProxy();
const network = await createNetwork(readProxySettings({ HTTP_PROXY: proxy.url, NO_PROXY: '' }).settings);
const warnings: string[] = [];
const quiet = () => undefined;
const log = { debug: quiet, info: quiet, error: quiet, warn: (o: object | string, msg?: string) => void warnings.push(typeof o === 'string' ? o : (msg ?? '')) };
const transport = new DiscordTransport({ token: fake.token, api: fake.restApi, log, network }, { onMessage: quiet, onInteraction: quiet });
await transport.start();
const discordHost = new URL(fake.restApi).host;
const tunnels = proxy.seen.filter((r) => r.method === 'CONNECT' && r.target === discordHost).length;
process.stdout.write(`${JSON.stringify({ warnings, tunnels, restProxied: proxy.seen.some((r) => r.method === 'GET') })}\n`);
await transport.stop().catch(() => undefined);
await network.close();
await proxy.close();
await fake.close();
process.exit(0);
