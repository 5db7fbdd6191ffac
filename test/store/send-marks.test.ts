/** The adapters' notes listed by key prefix and forgotten, on both backends. */
import { expect, it } from 'vitest';
import { sql } from 'kysely';
import { describeStores } from './backends.js';

describeStores('send marks', (ctx) => {
  it("list exactly the notes under a prefix, in key order, and forget one", async () => {
    const prefix = 'discord:gateway:b_1:0:p:';
    const keys = [
      `${prefix}zz`, `${prefix}a-1`, `${prefix}A`, // under the prefix
      'discord:gateway:b_1:0:p;x', 'discord:gateway:b_1:0:px', 'discord:gateway:b_1:10:p:a', 'discord:gateway:bx1:0:p:a', 'discordgateway:b_1:0:p:a',
    ];
    for (const k of keys) await ctx.store.sendMarks.put(k, `v ${k}`);
    expect(await ctx.store.sendMarks.list(prefix)).toEqual([`${prefix}A`, `${prefix}a-1`, `${prefix}zz`].map((key) => ({ key, value: `v ${key}` })));
    await ctx.store.sendMarks.forget(`${prefix}a-1`);
    expect((await ctx.store.sendMarks.list(prefix)).map((n) => n.key)).toEqual([`${prefix}A`, `${prefix}zz`]);
    expect(await ctx.store.sendMarks.get(`${prefix}a-1`)).toBeUndefined();
    expect(await ctx.store.sendMarks.get('discord:gateway:b_1:0:px')).toBe('v discord:gateway:b_1:0:px');
  });

  it('compare keys bytewise whatever the database collation, so a prefix range holds its keys', async () => {
    if (ctx.backend !== 'postgres') return expect(ctx.backend).toBe('sqlite'); // SQLite's text compares bytewise
    const r = await sql<{ collation_name: string | null }>`select collation_name from information_schema.columns where table_name = 'send_marks' and column_name = 'key'`.execute(ctx.store.db);
    expect(r.rows[0]?.collation_name).toBe('C');
  });
});
