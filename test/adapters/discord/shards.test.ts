/**
 * One Discord bot split over two charbridge instances: a four-shard fake Discord, instance A on
 * shards 0-1 and B on 2-3 (same token, one PostgreSQL database, one Redis prefix, each a real
 * runtime with its own engine). Guild messages reach the instance of their guild's shard, DMs
 * the instance of shard 0; each is answered exactly once; the four IDENTIFYs take turns through
 * the shared gate, so the fake (enforcing one per bucket per window) never refuses one. With each
 * instance's shards named, a restarted instance has Discord replay its own shards' sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../../adapters/discord/index.js';
import { ConfigError } from '../../../src/core/errors.js';
import { loadConfig } from '../../../src/config.js';
import type { InboundMessage } from '../../../src/core/types.js';
import { startRuntime, type Runtime } from '../../../src/runtime.js';
import { contentText, startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai.js';
import { startFakeDiscord, type FakeDiscord } from '../../fakes/discord.js';
import { testLogger } from '../../helpers/harness.js';
import { recentChatsOf } from '../../../src/platforms.js';
import { hasPostgres, hasRedis, pgDatabase, redisPrefix, type TestDatabase, type TestRedisPrefix } from '../../helpers/services.js';
import { QUIET_HEARTBEAT_MS, SCALED_LIMITS, SCALED_TUNING, alice, bob, startDiscord } from './helpers.js';

/** The fake's identify window (Discord's 5 s scaled down) and the instances' spacing above it. */
const FAKE_WINDOW_MS = 200;
const GATE_WINDOW_MS = 300;

describe.skipIf(!hasPostgres() || !hasRedis())('a four-shard Discord bot over two instances', () => {
  let fake: FakeDiscord;
  let openai: FakeOpenAI;
  let db: TestDatabase;
  let redis: TestRedisPrefix;
  const instances: Runtime[] = [];
  /** What each instance's adapter handed to its engine. */
  const handled: InboundMessage[][] = [[], []];
  let guilds: Array<{ id: string; channelId: string }>;
  let start: (i: number, shards: string) => Promise<Runtime>;

  beforeAll(async () => {
    fake = await startFakeDiscord({ limits: SCALED_LIMITS, retryAfterHeader: 'exact', heartbeatIntervalMs: QUIET_HEARTBEAT_MS, shards: { identifyWindowMs: FAKE_WINDOW_MS } });
    guilds = [0, 1, 2, 3].map((shard) => fake.addGuild({ shard: [shard, 4] }));
    openai = await startFakeOpenAI();
    openai.respondWith(async ({ messages }) => `re: ${contentText(messages.filter((m: any) => m.role === 'user').at(-1)?.content ?? '')}`);
    db = await pgDatabase();
    redis = redisPrefix();
    start = (i: number, shards: string) =>
      startRuntime(
        loadConfig({
          PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix,
          OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model', MODEL_MAX_RETRIES: '0',
          DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.restApi, DISCORD_SHARDS: shards, DISCORD_SHARD_COUNT: '4',
          HEARTBEAT_MS: '500', INSTANCE_DEAD_AFTER_MS: '2000',
          // Given, so no key file is generated in the working tree's data/.
          ADMIN_API_KEY: 'shards-test-admin-key-0123456789',
        }),
        {
          log: testLogger(),
          // As src/platforms.ts wires it, with Discord's windows scaled down like the fake's.
          adapters: ({ config, engine, log, coordination, store }) => [
            createDiscordAdapter(config.discord!, {
              handler: { handle: (m) => (handled[i]!.push(m), engine.handle(m)) },
              log,
              commands: engine.menu,
              listCharacters: async () => [],
              sendMarks: store.sendMarks,
              recentChats: recentChatsOf(store, log),
              tuning: { ...SCALED_TUNING, identifyWindowMs: GATE_WINDOW_MS },
              leadership: (name) => coordination.leadership(name),
              ...(coordination.sharedWindow ? { sharedWindow: coordination.sharedWindow } : {}),
              ...(coordination.identifyGate ? { identifyGate: coordination.identifyGate } : {}),
            }),
          ],
        },
      );
    // Both at once, as a deployment's instances start: their shards contend for the same bucket.
    const started = await Promise.allSettled([start(0, '0-1'), start(1, '2-3')]);
    for (const s of started) if (s.status === 'fulfilled') instances.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });

  afterAll(async () => {
    await Promise.allSettled(instances.map((r) => r.shutdown('test end')));
    await Promise.allSettled([fake?.close(), openai?.close()]);
    await Promise.allSettled([db?.drop(), redis?.clear()]);
  });

  it('starts four sessions, one per shard, taking turns across the instances', () => {
    const started = fake.identifies();
    expect(started.map((s) => s.shard).sort(([a], [b]) => a - b)).toEqual([[0, 4], [1, 4], [2, 4], [3, 4]]);
    expect(fake.identifiesRefused).toBe(0);
    // One bucket (max_concurrency 1): every session start at least the fake's window after the one before.
    const at = started.map((s) => s.at).sort((a, b) => a - b);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(FAKE_WINDOW_MS);
    expect(instances.map((r) => r.adapters[0]!.status().connected)).toEqual([true, true]);
  });

  it("answers each guild's message on its shard's instance and a DM on shard 0's, each exactly once", async () => {
    for (const g of guilds) fake.userMessage({ author: alice, channelId: g.channelId, content: `hello ${g.id}`, mentionsBot: true });
    const dm = fake.userMessage({ author: bob, guildId: null, content: 'hello in a DM' });
    const channels = [...guilds.map((g) => g.channelId), dm.channel_id as string];
    await fake.waitFor(() => channels.every((c) => fake.channelMessages(c).length >= 1), 15_000);
    await fake.idle();
    await Promise.all(instances.map((r) => r.adapters[0]!.settled()));
    for (const g of guilds) expect(fake.channelMessages(g.channelId).map((m) => m.content)).toEqual([expect.stringContaining(`re: `)]);
    expect(fake.channelMessages(dm.channel_id).map((m) => m.content)).toEqual([expect.stringContaining('hello in a DM')]);
    // Which guild (by its shard) or the DM each instance's engine was handed.
    const where = (i: number) => handled[i]!.map((m) => (m.text.includes('DM') ? 'dm' : `shard ${guilds.findIndex((g) => m.text.includes(g.id))}`)).sort();
    expect(where(0)).toEqual(['dm', 'shard 0', 'shard 1']);
    expect(where(1)).toEqual(['shard 2', 'shard 3']);
    expect(openai.requests.length).toBe(5);
  });

  it("has Discord replay its shards' sessions when an instance restarts: a first DM sent meanwhile is answered", async () => {
    await instances[0]!.shutdown('deploy');
    const carol = { id: '511111111111111111', username: 'carol' };
    const dm = fake.userMessage({ author: carol, guildId: null, content: 'first DM while shard 0 restarts' });
    instances[0] = await start(0, '0-1');
    await fake.waitFor(() => fake.channelMessages(dm.channel_id).length === 1, 15_000);
    await fake.idle();
    expect(fake.channelMessages(dm.channel_id).map((m) => m.content)).toEqual([expect.stringContaining('first DM while shard 0 restarts')]);
    // Only the restarted instance's two shards were resumed to replay them; B's sessions were left alone.
    const resumes = fake.gatewayLog.filter((e) => e.dir === 'in' && e.op === 6);
    expect(resumes).toHaveLength(2);
    expect(instances[1]!.adapters[0]!.status().connected).toBe(true);
  });

  it('in a rolling deploy (the new instance for shards 0-1 starts before the old one stops), answers every message once', async () => {
    const dave = { id: '522222222222222222', username: 'dave' };
    const channel = guilds[0]!.channelId;
    const say = (text: string) => {
      fake.userMessage({ author: alice, channelId: channel, content: text, mentionsBot: true });
      return fake.userMessage({ author: dave, guildId: null, content: text }).channel_id as string;
    };
    const answers = (ch: string, text: string) => fake.channelMessages(ch).filter((m) => m.content.includes(text)).length;
    const settle = async () => {
      await fake.idle(10_000);
      await Promise.all(instances.map((r) => r.adapters[0]!.settled()));
    };
    const old = instances[0]!;
    const dm = say('before the deploy');
    await fake.waitFor(() => answers(channel, 'before the deploy') === 1 && answers(dm, 'before the deploy') === 1, 15_000);

    // The new instance starts while the old one runs: both hear shards 0-1 for a while.
    instances.push(await start(0, '0-1'));
    say('while both run');
    await fake.waitFor(() => answers(channel, 'while both run') === 1 && answers(dm, 'while both run') === 1, 15_000);
    await settle();

    // The old one stops; its session, closed to be resumed, lapses unresumed as on Discord.
    await old.shutdown('deploy done');
    instances.splice(instances.indexOf(old), 1);
    fake.lapseDisconnectedSessions();
    say('after the old one stopped');
    await fake.waitFor(() => answers(channel, 'after the old one stopped') === 1 && answers(dm, 'after the old one stopped') === 1, 15_000);
    await settle();
    for (const text of ['before the deploy', 'while both run', 'after the old one stopped']) {
      expect([answers(channel, text), answers(dm, text)]).toEqual([1, 1]);
    }
    expect(instances.map((r) => r.adapters[0]!.status().connected)).toEqual([true, true]);
  });
});

describe('a Discord bot that must shard, or asks for a shard that does not exist', () => {
  it('fails to start with close code 4011, saying to raise DISCORD_SHARD_COUNT', async () => {
    const s = await startDiscord({ fake: { shards: { maxGuildsPerShard: 1 } }, start: false });
    try {
      s.fake.addGuild(); // two guilds, one shard allowed one
      const err = await s.adapter.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/4011.*DISCORD_SHARD_COUNT/);
    } finally {
      await s.close();
    }
  });

  it('fails to start with close code 4010 for a shard id beyond the count', async () => {
    const s = await startDiscord({ config: { shards: [4], shardCount: 4 }, start: false });
    try {
      const err = await s.adapter.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/4010.*DISCORD_SHARDS/);
    } finally {
      await s.close();
    }
  });
});
