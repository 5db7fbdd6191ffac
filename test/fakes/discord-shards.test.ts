/**
 * The fake Discord's sharding, against raw gateway frames (exact close codes and op 9) and the
 * real discord.js client (events reach the shard Discord would send them to).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Client, Events, GatewayIntentBits, Partials } from 'discord.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from './discord.js';

const { Guilds, GuildMessages, MessageContent, DirectMessages } = GatewayIntentBits;
const INTENTS = (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15);
const alice = { id: '111111111111111111', username: 'alice' };

let fake: FakeDiscord | undefined;
const clients: Client[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const c of clients.splice(0)) await c.destroy();
  await fake?.close();
  fake = undefined;
});

async function start(o: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  fake = await startFakeDiscord(o);
  return fake;
}

/** A raw gateway connection: HELLO read, then IDENTIFY with `shard`; resolves with what came back first. */
function identify(f: FakeDiscord, shard?: unknown): Promise<{ op: number; t?: string; d?: any } | { closed: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${f.restApi.replace('http', 'ws').replace(/\/api$/, '')}/gateway`);
    sockets.push(ws);
    ws.on('message', (raw) => {
      const p = JSON.parse(String(raw));
      if (p.op === 10) ws.send(JSON.stringify({ op: 2, d: { token: f.token, intents: INTENTS, properties: {}, ...(shard === undefined ? {} : { shard }) } }));
      else resolve(p);
    });
    ws.on('close', (code) => resolve({ closed: code }));
  });
}

describe('fake discord: sharding', () => {
  it('closes an invalid shard with 4010 and a bot that must shard with 4011', async () => {
    const f = await start({ shards: { maxGuildsPerShard: 1 } });
    const second = f.addGuild(); // two guilds now, possibly created in one millisecond (then on one shard at every count)
    expect(await identify(f, [2, 2])).toEqual({ closed: 4010 });
    expect(await identify(f, [0, 0])).toEqual({ closed: 4010 });
    expect(await identify(f, ['0', 2])).toEqual({ closed: 4010 });
    expect(await identify(f)).toEqual({ closed: 4011 }); // no shard: [0, 1], both guilds on one session
    const light = [0, 1, 2].find((id) => [f.guild.id, second.id].filter((g) => f.shardOf(g, 3) === id).length <= 1)!;
    expect(await identify(f, [light, 3])).toMatchObject({ t: 'READY', d: { shard: [light, 3] } });
    const res = await fetch(`${f.restApi}/v10/gateway/bot`, { headers: { authorization: `Bot ${f.token}` } });
    // The smallest count holding at most one guild per shard, never more shards than guilds.
    expect(((await res.json()) as { shards: number }).shards).toBe(2);
  });

  it('answers an IDENTIFY inside its bucket window with op 9 and counts it; another bucket or a later one starts', async () => {
    let now = 1_000_000;
    const f = await start({ now: () => now, shards: { maxConcurrency: 2, identifyWindowMs: 5000 } });
    expect(await identify(f, [0, 4])).toMatchObject({ t: 'READY' });
    expect(await identify(f, [1, 4])).toMatchObject({ t: 'READY' }); // bucket 1
    expect(await identify(f, [2, 4])).toEqual({ op: 9, d: false, s: null, t: null }); // bucket 0 again
    expect(f.identifiesRefused).toBe(1);
    now += 5000;
    expect(await identify(f, [2, 4])).toMatchObject({ t: 'READY', d: { shard: [2, 4] } });
    expect(f.identifies().map((x) => x.shard)).toEqual([[0, 4], [1, 4], [2, 4]]);
  });

  it('sends each guild only to its shard (READY, GUILD_CREATE, messages) and DMs to shard 0 only, with discord.js', async () => {
    const f = await start({ shards: { identifyWindowMs: 100 } });
    const guilds = [0, 1, 2, 3].map((shard) => f.addGuild({ shard: [shard, 4] }));
    // Two clients of one bot, shards 0-1 and 2-3, taking turns to identify (150 ms apart).
    let next = 0;
    const turn = async () => {
      const wait = Math.max(0, next - Date.now());
      next = Math.max(Date.now(), next) + 150;
      await new Promise((r) => setTimeout(r, wait));
    };
    const seen: Array<{ client: number; shard: number; t: string; guild: string | null }> = [];
    for (const [i, shards] of [[0, 1], [2, 3]].entries()) {
      const c = new Client({
        intents: [Guilds, GuildMessages, MessageContent, DirectMessages], partials: [Partials.Channel], rest: { api: f.restApi },
        shards, shardCount: 4, ws: { buildIdentifyThrottler: () => ({ waitForIdentify: turn }) },
      });
      clients.push(c);
      c.on(Events.Raw, (p: any, shard: number) => {
        if (p.t === 'MESSAGE_CREATE' || p.t === 'GUILD_CREATE') seen.push({ client: i, shard, t: p.t, guild: p.d.guild_id ?? (p.t === 'GUILD_CREATE' ? p.d.id : null) });
      });
      const ready = new Promise<void>((r) => c.once(Events.ClientReady, () => r()));
      await c.login(f.token);
      await ready;
    }
    for (const g of guilds) f.userMessage({ author: alice, channelId: g.channelId, content: `hi ${g.id}` });
    f.userMessage({ author: alice, guildId: null, content: 'a DM' });
    await f.waitFor(() => seen.filter((s) => s.t === 'MESSAGE_CREATE').length === 5);
    await f.idle();
    const messages = seen.filter((s) => s.t === 'MESSAGE_CREATE').map(({ client, shard, guild }) => ({ client, shard, guild }));
    const expected = [...guilds.map((g, shard) => ({ client: shard < 2 ? 0 : 1, shard, guild: g.id })), { client: 0, shard: 0, guild: null }];
    // Several sockets: the order between them is not defined.
    const byKey = (xs: object[]) => xs.map((x) => JSON.stringify(x)).sort();
    expect(byKey(messages)).toEqual(byKey(expected));
    for (const g of [f.guild.id, ...guilds.map((x) => x.id)]) {
      expect(seen.filter((s) => s.t === 'GUILD_CREATE' && s.guild === g).map((s) => s.shard)).toEqual([f.shardOf(g, 4)]);
    }
    const started = f.identifies();
    expect(started.map((x) => x.shard[0]).sort()).toEqual([0, 1, 2, 3]);
    expect(f.identifiesRefused).toBe(0);
  });

  it('a discord.js login the gateway closes with 4011 rejects ("Sharding is required")', async () => {
    const f = await start({ shards: { maxGuildsPerShard: 1 } });
    f.addGuild();
    const c = new Client({ intents: [Guilds, GuildMessages, MessageContent, DirectMessages], rest: { api: f.restApi } });
    clients.push(c);
    const err = await c.login(f.token).catch((e: unknown) => e);
    expect((err as Error).message).toBe('Sharding is required');
  });
});
