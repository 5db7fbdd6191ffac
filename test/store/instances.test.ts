import { expect, it } from 'vitest';
import { describeStores } from './backends.js';

const DEAD = 10_000;
const LEASE = 120_000;

describeStores('InstanceRepo', (ctx) => {
  it("a clean stop frees the instance's claims and pending keys at once, yet it still counts as having run within the window", async () => {
    const now = ctx.clock.now();
    const ids = { a: 'a', b: 'b' };
    await ctx.store.instances.register(ids.a, now);
    await ctx.store.instances.register(ids.b, now);
    const claim = (owner: string, at: number) =>
      ctx.store.events.claim({ platform: 'telegram', eventId: 'e1', owner, now: at, deadAfterMs: DEAD, leaseMs: LEASE, payload: '{}' });
    const runner = (instanceId: string, turnId: string) => ({ instanceId, deadAfterMs: DEAD, turnId });
    expect(await claim(ids.b, now)).toBe(true);
    expect(await ctx.store.idempotency.begin('k', 'x', 'h', now, runner(ids.b, 't1'))).toEqual({ state: 'new' });
    expect(await claim(ids.a, now + 1)).toBe(false); // b runs: its claim is its own
    expect(await ctx.store.idempotency.begin('k', 'x', 'h', now + 1, runner(ids.a, 't2'))).toEqual({ state: 'pending' });

    await ctx.store.instances.stop(ids.b, now + 2);
    // Stopped cleanly: dead to the claims at once, without waiting out its heartbeat's age.
    expect(await claim(ids.a, now + 3)).toBe(true);
    expect(await ctx.store.idempotency.begin('k', 'x', 'h', now + 3, runner(ids.a, 't2'))).toMatchObject({ state: 'orphaned', owner: ids.b });
    const within = now + 3 - 60_000;
    expect(await ctx.store.instances.live(within)).toEqual([ids.a]);
    // ...but it ran within the window: an empty Redis now is a lost one, not a new deployment.
    expect((await ctx.store.instances.ranSince(within)).sort()).toEqual([ids.a, ids.b].sort());
    expect(await ctx.store.instances.ranSince(now + 3)).toEqual([]);
  });

  it('a restarted id is running again, and a stopped row is pruned with the crashed ones once old', async () => {
    const now = ctx.clock.now();
    const id = 'c';
    await ctx.store.instances.register(id, now);
    await ctx.store.instances.stop(id, now + 1);
    expect(await ctx.store.instances.live(now)).toEqual([]);
    await ctx.store.instances.register(id, now + 2);
    expect(await ctx.store.instances.live(now)).toEqual([id]);
    await ctx.store.instances.stop(id, now + 3);
    await ctx.store.instances.prune(now + 4);
    expect(await ctx.store.instances.ranSince(0)).not.toContain(id);
  });
});
