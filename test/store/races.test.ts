import { expect, it } from 'vitest';
import { sql } from 'kysely';
import { characterInputFrom } from '../../src/store/index.js';
import { FEED_APPEND_LOCK } from '../../src/store/updates.js';
import { describeStores } from './backends.js';

/** `n` copies of `fn` started at once; on PostgreSQL they spread over the pool's connections. */
const together = <T>(n: number, fn: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => fn(i)));

describeStores('store races', (ctx) => {
  it('one new Idempotency-Key sent many times at once: one owner, the rest pending, no error', async () => {
    const results = await together(30, () => ctx.store.idempotency.begin('k', 'same-key', 'h', ctx.clock.now()));
    expect(results.filter((r) => r.state === 'new')).toHaveLength(1);
    expect(results.filter((r) => r.state === 'pending')).toHaveLength(29);
  });

  it('many creates with one name all succeed with distinct slugs', async () => {
    const input = characterInputFrom({ name: 'Twin', personality: 'Exactly like the others.', speakingStyle: 'The same as the rest.' });
    const made = await together(30, () => ctx.store.characters.create(input, 'key_a'));
    const slugs = new Set(made.map((c) => c.slug));
    expect(slugs.size).toBe(30);
    expect(slugs).toContain('twin');
    expect(slugs).toContain('twin-30');
  });

  it('an event, a proactive lease and the last credits go to one claimant each', async () => {
    const now = ctx.clock.now();
    const claim = (owner: string, at: number) => ctx.store.events.claim({ platform: 'telegram', eventId: 'ev', owner, now: at, deadAfterMs: 10_000, leaseMs: 120_000 });
    await ctx.store.instances.register('first', now);
    const events = await together(20, () => claim('first', now));
    expect(events.filter(Boolean)).toHaveLength(1);
    // The owner stops heartbeating: of many live instances, one takes its claim over.
    for (let i = 0; i < 20; i++) await ctx.store.instances.register(`live-${i}`, now + 10_001);
    const takeovers = await together(20, (i) => claim(`live-${i}`, now + 10_001));
    expect(takeovers.filter(Boolean)).toHaveLength(1);

    const conv = await ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'k', characterId: null });
    const leases = await together(20, (i) => ctx.store.proactive.claim(conv.id, `owner-${i}`, now, 60_000));
    expect(leases.filter(Boolean)).toHaveLength(1);

    const { apiKey } = await ctx.store.apiKeys.create({ name: 'k', credits: 10 });
    const reserved = await together(30, () => ctx.store.apiKeys.reserve(apiKey.id, 1));
    expect(reserved.filter(Boolean)).toHaveLength(10);
    expect((await ctx.store.apiKeys.get(apiKey.id))?.creditsUsed).toBe(10);
  });

  it('instances starting together on one new database each load the shipped presets without error', async () => {
    // Each preset is a new row raced by every instance at once (on PostgreSQL the pool's
    // connections are opened first, so the inserts really overlap). Loading must not trip the
    // second unique index, (owner, slug), which `on conflict (id)` does not cover.
    await together(10, () => sql`select 1`.execute(ctx.store.db));
    for (let i = 0; i < 20; i++) {
      const preset = { ...characterInputFrom({ name: `Shipped ${i}`, personality: 'Loaded by every instance.', speakingStyle: 'Plain and short.' }, { isPublic: true }), slug: `shipped-${i}` };
      const loaded = await together(10, () => ctx.store.characters.upsertPreset(preset));
      expect(new Set(loaded.map((c) => c.id))).toEqual(new Set([`preset_shipped-${i}`]));
    }
  });

  it('one source event appended at once from many places is stored once; one scope key opens one conversation', async () => {
    const convs = await together(10, () => ctx.store.conversations.getOrCreateByScope('telegram:dm:1', { platform: 'telegram', chatType: 'dm' }));
    expect(new Set(convs.map((c) => c.id)).size).toBe(1);
    const msgs = await together(10, () =>
      ctx.store.messages.append({ conversationId: convs[0]!.id, role: 'user', kind: 'user', content: 'hi', tokenCount: 1, sourceEvent: 'telegram:ev-1' }),
    );
    expect(new Set(msgs.map((m) => m.id)).size).toBe(1);
    expect((await ctx.store.conversations.get(convs[0]!.id))?.messageCount).toBe(1);
  });

  it('a cursor reader racing concurrent appends sees every entry exactly once', async () => {
    const conv = await ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'k', characterId: 'c' });
    const appended: number[] = [];
    let writing = true;
    const writers = together(4, async (w) => {
      for (let i = 0; i < 30; i++) appended.push((await ctx.store.updates.append({ apiKeyId: 'k', conversationId: conv.id, characterId: 'c', kind: 'reply', message: { id: `m${w}-${i}`, content: 'x', sentAt: 'now' } })).id);
    }).finally(() => (writing = false));
    const seen: number[] = [];
    let cursor = 0;
    for (let drained = false; !drained; ) {
      const wasWriting = writing;
      const page = await ctx.store.updates.list({ apiKeyId: null, afterId: cursor, limit: 25 });
      seen.push(...page.updates.map((u) => u.id));
      cursor = page.cursor;
      drained = !wasWriting && page.updates.length === 0;
    }
    await writers;
    expect(seen).toEqual([...appended].sort((a, b) => a - b));
  });
});

describeStores(
  'updates feed ordering across instances',
  (ctx) => {
    it('an append waits for an earlier in-flight append, so a cursor never passes an id that commits later', async () => {
      const conv = await ctx.store.conversations.create({ platform: 'api', chatType: 'dm', ownerId: 'k', characterId: 'c' });
      const row = (n: string) => ({ api_key_id: 'k', conversation_id: conv.id, character_id: 'c', kind: 'reply', message_id: n, content: n, error_json: null, created_at: 'now' });
      let commit!: () => void;
      let inFlightId = 0;
      let locked!: () => void;
      const lockHeld = new Promise<void>((r) => (locked = r));
      // Another instance's append, stopped between taking its id and committing.
      const other = ctx.store.db.transaction().execute(async (tx) => {
        await sql`select pg_advisory_xact_lock(${FEED_APPEND_LOCK.space}::int4, hashtext(${FEED_APPEND_LOCK.key}::text))`.execute(tx);
        inFlightId = (await tx.insertInto('updates').values(row('slow')).returning('id').executeTakeFirstOrThrow()).id;
        locked();
        await new Promise<void>((r) => (commit = r));
      });
      await lockHeld;
      try {
        let appendDone = false;
        const append = ctx.store.updates.append({ apiKeyId: 'k', conversationId: conv.id, characterId: 'c', kind: 'reply', message: { id: 'fast', content: 'fast', sentAt: 'now' } });
        void append.then(() => (appendDone = true));
        for (;;) {
          const r = await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`.execute(ctx.store.db);
          if (r.rows[0]!.n > 0) break;
          if (appendDone) throw new Error('the append did not wait for the in-flight append');
        }
        const before = await ctx.store.updates.list({ apiKeyId: 'k', limit: 10 });
        expect(before.cursor).toBeLessThan(inFlightId);
        commit();
        await other;
        const fast = await append;
        expect(fast.id).toBeGreaterThan(inFlightId);
        const after = await ctx.store.updates.list({ apiKeyId: 'k', afterId: before.cursor, limit: 10 });
        expect(after.updates.map((u) => u.message?.id)).toEqual(['slow', 'fast']);
      } finally {
        commit();
        await other;
      }
    });
  },
  ['postgres'],
);
