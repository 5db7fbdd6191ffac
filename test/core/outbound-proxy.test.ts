/**
 * Behind a firewall whose only way out is a proxy: the whole runtime as `npm start` wires it
 * (createPlatformAdapters), with HTTP_PROXY naming a proxy that wants a login, reaches the model,
 * Telegram, Slack (Web API and the Socket Mode connection) and Discord (REST, and the gateway's
 * WebSocket, reconnects included) through it, and answers a message on each platform. The real
 * SDKs against the fakes on loopback, through a real forward proxy (test/fakes/proxy.ts).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createPlatformAdapters } from '../../src/platforms.js';
import { startFakeProxy, type FakeProxy } from '../fakes/proxy.js';
import { imMessage } from '../fakes/slack.js';
import { alice, operator } from '../adapters/discord/helpers.js';
import { readFixture } from '../fixtures/cards/make.js';
import { imageServer } from '../helpers/net.js';
import { DM, waitFor } from '../adapters/telegram/world.js';
import { capture, chat, platformsWorld, stoppedAfterEach } from './outbound-world.js';

const started = stoppedAfterEach();

async function world() {
  const proxy = await startFakeProxy({ credentials: 'egress:s3cret-pass' });
  const platforms = await platformsWorld();
  started.track(proxy, ...platforms.closers);
  return { proxy, ...platforms };
}

/** The paths (or tunnels) the proxy carried, by method. */
const carried = (proxy: FakeProxy) =>
  proxy.seen.filter((r) => r.auth).map((r) => (r.method === 'CONNECT' ? `CONNECT ${r.target}` : `${r.method} ${new URL(r.target).pathname}`));

describe('an outbound proxy', () => {
  it('carries the model, Telegram, Slack and Discord, the gateway and its reconnects too', async () => {
    const w = await world();
    const proxyUrl = w.proxy.url.replace('http://', 'http://egress:s3cret-pass@');
    const config = loadConfig({ ...w.env, HTTP_PROXY: proxyUrl, NO_PROXY: '' });
    const { log, lines, raw } = capture(config.secrets);
    const runtime = await started.start(config, { log, adapters: createPlatformAdapters });

    w.telegram.userMessage({ ...DM, text: 'hello from Telegram' });
    await waitFor(() => w.telegram.botMessages(42).length === 1, 10_000, 'the Telegram reply');
    w.slack.socketEvent(imMessage({ channel: 'D0PROXY', user: 'U0ANN', text: 'hello from Slack' }));
    await w.slack.waitFor(() => w.slack.channelMessages('D0PROXY').some((m) => m.text === 're: hello from Slack'), 10_000);
    // A slash command's answer goes to its response_url through Bolt's respond(), given our fetch.
    w.slack.socketSlashCommand({ command: '/charbridge', text: 'help', user_id: 'U0ANN', channel_id: 'D0PROXY' });
    await w.slack.waitFor(() => w.slack.responses.length === 1, 10_000);
    const dm = w.discord.userMessage({ author: alice, guildId: null, content: 'hello from Discord' });
    await w.discord.waitFor(() => w.discord.channelMessages(dm.channel_id).length === 1, 10_000);
    // The gateway drops the connection; discord.js resumes on a new one, through the proxy again.
    const discordHost = new URL(w.discord.restApi).host;
    const gatewayTunnels = () => carried(w.proxy).filter((p) => p === `CONNECT ${discordHost}`).length;
    const tunnelsBefore = gatewayTunnels();
    w.discord.disconnect(4000);
    await w.discord.waitFor(() => w.discord.gatewayStats().resumes === 1 && w.discord.gatewayStats().liveSockets === 1, 10_000);
    w.discord.userMessage({ author: alice, guildId: null, content: 'after the resume' });
    await w.discord.waitFor(() => w.discord.channelMessages(dm.channel_id).length === 2, 10_000);

    // Files a command carries are downloaded through it too (Node's fetch, given the proxy's dispatcher).
    const OPERATOR = { chat: { id: 999, type: 'private' as const }, from: { id: 999, first_name: 'Op' } };
    w.telegram.userMessage({ ...OPERATOR, caption: '/character import', document: { name: 'marisol.png', mime: 'image/png', bytes: readFixture('marisol.v2.png') } });
    await waitFor(() => w.telegram.botMessages(999).length === 1, 10_000, 'the Telegram import answer');
    const opDm = w.discord.userMessage({ author: operator, guildId: null, content: '/character import', attachments: [{ filename: 'quill.charx', content_type: 'application/zip', bytes: readFixture('quill.charx') }] });
    await w.discord.waitFor(() => w.discord.channelMessages(opDm.channel_id).length === 1, 10_000);

    expect(w.telegram.botMessages(999).map((m) => m.text)).toEqual(['Imported Marisol Vane. Platform users can switch to it with /character Marisol Vane.']);
    expect(w.discord.channelMessages(opDm.channel_id).map((m) => m.content)).toEqual(['Imported Quill-7 Archivist. Platform users can switch to it with /character Quill-7 Archivist.']);
    expect(w.telegram.botMessages(42).map((m) => m.text)).toEqual(['re: hello from Telegram']);
    expect(w.discord.channelMessages(dm.channel_id).map((m) => m.content)).toEqual(['re: hello from Discord', 're: after the resume']);
    const paths = carried(w.proxy);
    // Every call the proxy was asked to carry brought the login: none was refused.
    expect(w.proxy.seen.filter((r) => !r.auth)).toEqual([]);
    expect(paths).toContain('POST /v1/chat/completions');
    expect(paths).toEqual(expect.arrayContaining([expect.stringMatching(/^POST \/bot[^/]+\/getUpdates$/), expect.stringMatching(/^POST \/bot[^/]+\/sendMessage$/)]));
    expect(paths).toEqual(expect.arrayContaining(['POST /api/apps.connections.open', 'POST /api/auth.test', `POST ${new URL(w.slack.responses[0]!.url).pathname}`]));
    // Slack's Socket Mode WebSocket is tunnelled: an upgrade cannot be forwarded.
    expect(paths).toContain(`CONNECT ${new URL(w.slack.apiUrl).host}`);
    expect(paths).toEqual(expect.arrayContaining(['GET /api/v10/gateway/bot', `POST /api/v10/channels/${dm.channel_id}/messages`]));
    expect(paths).toEqual(expect.arrayContaining([expect.stringMatching(/^GET \/file\/bot[^/]+\/documents\//), expect.stringMatching(/^GET \/attachments\/.+\/quill\.charx$/)]));
    // Discord's gateway WebSocket is tunnelled (discord.js was given no agent of its own for it),
    // and so was the connection it resumed on; REST calls are forwarded, so every tunnel to
    // Discord's address is a gateway socket.
    expect(tunnelsBefore).toBe(1);
    expect(gatewayTunnels()).toBe(2);
    expect(lines().some((l) => /gateway connected directly/.test(l.msg))).toBe(false);
    expect(lines().find((l) => l.msg.startsWith('Outbound calls'))?.msg).toBe(
      `Outbound calls (model, platforms, downloads, webhooks, image URLs): https:// directly, http:// through http://egress:***@${new URL(w.proxy.url).host} (HTTP_PROXY).`,
    );
    expect(raw()).not.toContain('s3cret-pass');
  });

  it('leaves the hosts NO_PROXY lists alone', async () => {
    const w = await world();
    const runtime = await started.start(loadConfig({ ...w.modelEnv, HTTP_PROXY: w.proxy.url, NO_PROXY: 'localhost,127.0.0.1' }), {
      adapters: createPlatformAdapters,
      log: capture().log,
    });
    const res = await chat(runtime.url, { characterId: 'aria', message: 'straight through' });
    expect(res.status).toBe(200);
    expect(w.openai.requests.length).toBeGreaterThan(0);
    expect(w.proxy.seen).toEqual([]);
  });

  it('fetches an image URL through it, asking for the address it vetted', async () => {
    const w = await world();
    const images = await imageServer();
    started.track({ close: async () => images.close() });
    const runtime = await started.start(
      loadConfig({ ...w.modelEnv, HTTP_PROXY: w.proxy.url.replace('http://', 'http://egress:s3cret-pass@'), SSRF_ALLOW_HOSTS: 'images.test' }),
      { adapters: createPlatformAdapters, log: capture().log, net: { resolve: async (host) => (host === 'images.test' ? ['127.0.0.1'] : []) } },
    );
    const res = await chat(runtime.url, { characterId: 'aria', message: 'look', imageUrl: `http://images.test:${images.port}/cat.png` });
    expect(res.status).toBe(200);
    expect(carried(w.proxy)).toEqual([`GET /cat.png`, 'POST /v1/chat/completions']);
    expect(w.proxy.seen[0]!.target).toBe(`http://127.0.0.1:${images.port}/cat.png`);
  });

  it("names a local model the proxy cannot reach in the banner's next steps", async () => {
    let banner = '';
    const runtime = await started.start(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', HTTPS_PROXY: 'http://proxy.corp.invalid:3128', HTTP_PROXY: 'http://proxy.corp.invalid:3128', OPENAI_BASE_URL: 'http://localhost:11434/v1' }), {
      log: capture().log,
      banner: (text) => (banner = text),
    });
    expect(await runtime.ready).toBe(true);
    expect(banner).toContain(
      'Fix .env or the environment: OPENAI_BASE_URL (http://localhost:11434/v1) is on this machine but would go through the proxy http://proxy.corp.invalid:3128, which cannot reach it: add localhost to NO_PROXY.',
    );
    // And that the proxy itself does not answer (its name resolves nowhere).
    expect(banner).toMatch(/Fix \.env or the environment: HTTPS_PROXY: the proxy http:\/\/proxy\.corp\.invalid:3128 cannot be reached \(/);
  });

  it('says in the log, not to the tenant, that the proxy refused the login', async () => {
    const w = await world();
    const logged = capture();
    const runtime = await started.start(loadConfig({ ...w.modelEnv, HTTP_PROXY: w.proxy.url, MODEL_MAX_RETRIES: '0' }), {
      adapters: createPlatformAdapters,
      log: logged.log,
    });
    const res = await chat(runtime.url, { characterId: 'aria', message: 'blocked' });
    // The tenant is told the model is unreachable (the operator's problem, nothing charged); the
    // operator's log names the proxy and what to check.
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'MODEL_UNAVAILABLE' } });
    expect(logged.raw()).toContain('The proxy refused the model call (407 Proxy Authentication Required): check the user and password in HTTP_PROXY / HTTPS_PROXY');
    expect(w.openai.requests).toEqual([]);
    expect(w.proxy.seen.map((r) => `${r.method} ${new URL(r.target).pathname}`)).toEqual(['POST /v1/chat/completions']);
  });
});
