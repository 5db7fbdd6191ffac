import { expect, it } from 'vitest';
import { sql } from 'kysely';
import { prepared } from '../../src/store/prepared.js';
import { describeStores } from './backends.js';


describeStores('prepared queries', (ctx) => {
  const insert = prepared((db, p: { id: string; name: string; hash: string; at: string }) =>
    db.insertInto('api_keys').values({
      id: p.id, name: p.name, key_hash: p.hash, key_prefix: 'pre_', credits: null, credits_used: 0, webhook_url: null, webhook_secret: null,
      webhook_disabled: 0, webhook_failures: 0, disabled: 0, default_character_id: null, created_at: p.at, updated_at: p.at,
    }),
  );
  const names = prepared((db, p: { prefix: string; limit: number }) =>
    db.selectFrom('api_keys').select(['id', 'name']).where('key_prefix', '=', p.prefix).orderBy('id').limit(p.limit),
  );
  const rename = prepared((db, p: { id: string; name: string }) => db.updateTable('api_keys').set({ name: p.name }).where('id', '=', p.id));

  it('runs one compiled statement with each call’s values, as the builder would', async () => {
    const db = ctx.store.db;
    for (const [id, name] of [['k1', 'one'], ['k2', 'two'], ['k3', 'three']] as const) await insert.affected(db, { id, name, hash: `h-${id}`, at: new Date(0).toISOString() });
    expect(await names.rows(db, { prefix: 'pre_', limit: 2 })).toEqual([{ id: 'k1', name: 'one' }, { id: 'k2', name: 'two' }]);
    expect(await names.rows(db, { prefix: 'pre_', limit: 10 })).toEqual(
      await db.selectFrom('api_keys').select(['id', 'name']).where('key_prefix', '=', 'pre_').orderBy('id').limit(10).execute(),
    );
    expect(await names.first(db, { prefix: 'nope', limit: 1 })).toBeUndefined();
    expect(await rename.affected(db, { id: 'k2', name: 'deux' })).toBe(1);
    expect(await rename.affected(db, { id: 'missing', name: 'x' })).toBe(0);
    expect((await names.rows(db, { prefix: 'pre_', limit: 10 })).map((r) => r.name)).toEqual(['one', 'deux', 'three']);
  });

  it('runs inside a transaction, whose rollback undoes it', async () => {
    const db = ctx.store.db;
    await insert.affected(db, { id: 'k1', name: 'one', hash: 'h1', at: new Date(0).toISOString() });
    await expect(
      db.transaction().execute(async (tx) => {
        await rename.affected(tx, { id: 'k1', name: 'changed' });
        expect((await names.first(tx, { prefix: 'pre_', limit: 1 }))?.name).toBe('changed');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await names.first(db, { prefix: 'pre_', limit: 1 }))?.name).toBe('one');
  });

  it('run outside a transaction, waits for another one to finish and never sees its uncommitted writes', async () => {
    const db = ctx.store.db;
    await insert.affected(db, { id: 'k1', name: 'one', hash: 'h1', at: new Date(0).toISOString() });
    let finish!: () => void;
    const finishing = new Promise<void>((r) => (finish = r));
    let changed!: () => void;
    const hasChanged = new Promise<void>((r) => (changed = r));
    const other = db.transaction().execute(async (tx) => {
      await rename.affected(tx, { id: 'k1', name: 'uncommitted' });
      changed();
      await finishing;
      throw new Error('roll back');
    });
    await hasChanged;
    const seen: string[] = [];
    const read = names.first(db, { prefix: 'pre_', limit: 1 }).then((r) => seen.push(`read ${r?.name}`));
    const write = rename.affected(db, { id: 'k1', name: 'after' }).then(() => seen.push('write'));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    seen.push('rolled back');
    finish();
    await expect(other).rejects.toThrow('roll back');
    await Promise.all([read, write]);
    // The read never sees the rolled-back name. On SQLite it waits for the transaction and runs
    // before the write queued after it; on PostgreSQL it runs on a connection of the pool's, before
    // or after the write has committed.
    const read1 = seen.find((e) => e.startsWith('read'));
    expect(ctx.backend === 'sqlite' ? ['read one'] : ['read one', 'read after']).toContain(read1);
    expect(seen.indexOf('write')).toBeGreaterThan(seen.indexOf('rolled back'));
    expect((await names.first(db, { prefix: 'pre_', limit: 1 }))?.name).toBe('after');
  });

  it('takes a list parameter of any length, each length compiled as its own statement', async () => {
    const db = ctx.store.db;
    for (const [id, name] of [['k1', 'one'], ['k2', 'two'], ['k3', 'three']] as const) await insert.affected(db, { id, name, hash: `h-${id}`, at: new Date(0).toISOString() });
    const named = prepared((db2, p: { ids: readonly string[]; prefix: string }) =>
      db2.selectFrom('api_keys').select('name').where('id', 'in', p.ids).where('key_prefix', '=', p.prefix).orderBy('id'),
    );
    const names = async (ids: string[]) => (await named.rows(db, { ids, prefix: 'pre_' })).map((r) => r.name);
    expect(await names(['k1', 'k3'])).toEqual(['one', 'three']);
    expect(await names(['k2'])).toEqual(['two']);
    expect(await names(['k3', 'k2', 'k1'])).toEqual(['one', 'two', 'three']);
    expect(await names(['k2', 'missing'])).toEqual(['two']);
  });

  it('refuses a parameter used anywhere but as a value', async () => {
    const asIdentifier = prepared((db, p: { column: string }) => db.selectFrom('api_keys').select(sql.ref(p.column).as('v')));
    await expect(asIdentifier.rows(ctx.store.db, { column: 'name' })).rejects.toThrow(/parameter outside a value/);
  });
});
