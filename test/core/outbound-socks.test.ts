/**
 * Behind a SOCKS5 proxy (as `ssh -D` or Tor give one): the whole runtime as `npm start` wires it,
 * with ALL_PROXY naming a SOCKS5 proxy that wants a login, reaches the model, Telegram, Slack (Web
 * API and the Socket Mode WebSocket) and Discord (REST and the gateway's WebSocket) through it and
 * answers on each platform;
 * an image URL is relayed to the address it vetted; a refused login is logged as the proxy's. The
 * real SDKs against the fakes on loopback, through a real SOCKS5 relay (test/fakes/socks.ts).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createPlatformAdapters } from '../../src/platforms.js';
import { alice } from '../adapters/discord/helpers.js';
import { DM, waitFor } from '../adapters/telegram/world.js';
import { imMessage } from '../fakes/slack.js';
import { startFakeSocks } from '../fakes/socks.js';
import { imageServer } from '../helpers/net.js';
import { capture, chat, platformsWorld, stoppedAfterEach } from './outbound-world.js';

const started = stoppedAfterEach();

async function world() {
  const socks = await startFakeSocks({ credentials: 'egress:s3cret-pass' });
  const platforms = await platformsWorld();
  started.track(socks, ...platforms.closers);
  return { socks, ...platforms };
}

const hostOf = (url: string) => {
  const u = new URL(url);
  return `${u.hostname}:${u.port}`;
};

describe('an outbound SOCKS5 proxy', () => {
  it('relays the model, Telegram, Slack and Discord, every connection with the login', async () => {
    const w = await world();
    const config = loadConfig({ ...w.env, ALL_PROXY: w.socks.url, NO_PROXY: '' });
    const { log, lines, raw } = capture(config.secrets);
    const runtime = await started.start(config, { log, adapters: createPlatformAdapters });

    w.telegram.userMessage({ ...DM, text: 'hello from Telegram' });
    await waitFor(() => w.telegram.botMessages(42).length === 1, 10_000, 'the Telegram reply');
    w.slack.socketEvent(imMessage({ channel: 'D0SOCKS', user: 'U0ANN', text: 'hello from Slack' }));
    await w.slack.waitFor(() => w.slack.channelMessages('D0SOCKS').some((m) => m.text === 're: hello from Slack'), 10_000);
    const dm = w.discord.userMessage({ author: alice, guildId: null, content: 'hello from Discord' });
    await w.discord.waitFor(() => w.discord.channelMessages(dm.channel_id).length === 1, 10_000);
    // Told to reconnect, discord.js resumes on a new socket: relayed too.
    w.discord.requestReconnect();
    await w.discord.waitFor(() => w.discord.gatewayStats().resumes === 1 && w.discord.gatewayStats().liveSockets === 1, 10_000);

    expect(w.telegram.botMessages(42).map((m) => m.text)).toEqual(['re: hello from Telegram']);
    expect(w.discord.channelMessages(dm.channel_id).map((m) => m.content)).toEqual(['re: hello from Discord']);
    expect(w.socks.seen.filter((r) => /^GET \/gateway\?\S+ HTTP\/1\.1$/.test(r.firstLine ?? '')).map((r) => r.target)).toEqual([hostOf(w.env.DISCORD_API_URL), hostOf(w.env.DISCORD_API_URL)]);
    // Every connection brought the login. The fakes share one address, so each platform is told
    // apart by its port.
    expect(w.socks.seen.filter((r) => r.user !== 'egress')).toEqual([]);
    const targets = new Set(w.socks.seen.map((r) => r.target));
    for (const url of [w.env.OPENAI_BASE_URL, w.env.TELEGRAM_API_ROOT, w.env.SLACK_API_URL, w.env.DISCORD_API_URL]) expect(targets).toContain(hostOf(url));
    // Slack's Socket Mode WebSocket (undici's dispatcher) is relayed too: its upgrade opened a relay.
    expect(w.socks.seen.map((r) => r.firstLine)).toEqual(expect.arrayContaining([expect.stringMatching(/^GET \/socket\?ticket=\S+ HTTP\/1\.1$/), 'POST /v1/chat/completions HTTP/1.1']));
    expect(lines().find((l) => l.msg.startsWith('Outbound calls'))?.msg).toBe(
      `Outbound calls (model, platforms, downloads, webhooks, image URLs): https:// through socks5h://egress:***@127.0.0.1:${w.socks.port} (ALL_PROXY), http:// through socks5h://egress:***@127.0.0.1:${w.socks.port} (ALL_PROXY).`,
    );
    expect(raw()).not.toContain('s3cret-pass');
  });

  it('relays an image URL to the address it vetted, not the name', async () => {
    const w = await world();
    const images = await imageServer();
    started.track({ close: async () => images.close() });
    const runtime = await started.start(
      loadConfig({ ...w.modelEnv, ALL_PROXY: w.socks.url, SSRF_ALLOW_HOSTS: 'images.test' }),
      { adapters: createPlatformAdapters, log: capture().log, net: { resolve: async (host) => (host === 'images.test' ? ['127.0.0.1'] : []) } },
    );
    const res = await chat(runtime.url, { characterId: 'aria', message: 'look', imageUrl: `http://images.test:${images.port}/cat.png` });
    expect(res.status).toBe(200);
    expect(w.socks.seen[0]).toEqual({ target: `127.0.0.1:${images.port}`, by: 'ipv4', user: 'egress', firstLine: 'GET /cat.png HTTP/1.1' });
    expect(w.socks.seen.map((r) => r.target)).toContain(hostOf(w.env.OPENAI_BASE_URL));
  });

  it('says in the log, not to the tenant, that the proxy refused the login', async () => {
    const w = await world();
    const logged = capture();
    const wrong = w.socks.url.replace('s3cret-pass', 'not-the-password');
    const runtime = await started.start(loadConfig({ ...w.modelEnv, ALL_PROXY: wrong, MODEL_MAX_RETRIES: '0' }), {
      adapters: createPlatformAdapters,
      log: logged.log,
    });
    const res = await chat(runtime.url, { characterId: 'aria', message: 'blocked' });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'MODEL_UNAVAILABLE' } });
    expect(logged.raw()).toContain('The proxy refused the model call (SOCKS5 login refused): check the user and password in ALL_PROXY / HTTPS_PROXY / HTTP_PROXY');
    expect(w.openai.requests).toEqual([]);
    expect(w.socks.seen).toEqual([]);
  });
});
