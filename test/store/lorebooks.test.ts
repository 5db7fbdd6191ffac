import { expect, it } from 'vitest';
import { characterInputFrom } from '../../src/store/index.js';
import { describeStores } from './backends.js';

describeStores('LorebookRepo and PersonaRepo', (ctx) => {
  it('creates, lists per owner, attaches once, finds what applies to a turn, detaches and deletes', async () => {
    const repo = ctx.store.lorebooks;
    const a = await repo.create('key_a', { name: 'Sky', description: null, book: '{"entries":[]}' });
    ctx.clock.advance(1000);
    const b = await repo.create('key_a', { name: 'Sea', description: 'wet', book: '{"entries":[]}' });
    await repo.create('key_b', { name: 'Other', description: null, book: '{"entries":[]}' });
    expect((await repo.list('key_a', 1, 10)).lorebooks.map((r) => r.name)).toEqual(['Sea', 'Sky']);
    expect((await repo.list(null, 1, 2)).total).toBe(3);
    expect((await repo.findByName('key_a', 'Sky'))?.id).toBe(a.id);

    await repo.attach(a.id, { kind: 'character', id: 'char_1' });
    await repo.attach(a.id, { kind: 'character', id: 'char_1' });
    ctx.clock.advance(1000);
    await repo.attach(b.id, { kind: 'conversation', id: 'conv_1' });
    await repo.attach(a.id, { kind: 'conversation', id: 'conv_1' });
    const applies = await repo.attachedTo([{ kind: 'character', id: 'char_1' }, { kind: 'conversation', id: 'conv_1' }]);
    expect(applies.map((r) => r.name)).toEqual(['Sky', 'Sea']);
    expect(await repo.attachedTo([{ kind: 'conversation', id: 'conv_2' }])).toEqual([]);
    // What a turn lists: the same books in the same order, without the books themselves.
    const versions = await repo.attachedVersions([{ kind: 'character', id: 'char_1' }, { kind: 'conversation', id: 'conv_1' }]);
    expect(versions).toEqual(applies.map((r) => ({ id: r.id, ownerId: r.ownerId, name: r.name, updatedAt: r.updatedAt })));
    ctx.clock.advance(1000);
    const edited = await repo.update(b.id, { book: '{"entries":[],"name":"Sea"}' });
    expect((await repo.attachedVersions([{ kind: 'conversation', id: 'conv_1' }])).find((v) => v.id === b.id)?.updatedAt).toBe(edited?.updatedAt);
    expect(edited?.updatedAt).not.toBe(b.updatedAt);

    expect(await repo.detach(b.id, { kind: 'conversation', id: 'conv_1' })).toBe(true);
    expect(await repo.detach(b.id, { kind: 'conversation', id: 'conv_1' })).toBe(false);
    expect(await repo.delete(a.id)).toBe(true);
    expect(await repo.attachedTo([{ kind: 'character', id: 'char_1' }, { kind: 'conversation', id: 'conv_1' }])).toEqual([]);

    await repo.saveActivity('conv_1', '{"lines":[]}');
    await repo.saveActivity('conv_1', '{"lines":["+ x"]}');
    expect((await repo.activity('conv_1'))?.report).toBe('{"lines":["+ x"]}');
  });

  it('gives every edit of a lorebook or a character a later version, even within one millisecond or behind a clock gone back', async () => {
    const book = await ctx.store.lorebooks.create('key_a', { name: 'World', description: null, book: '{"entries":{}}' });
    const first = await ctx.store.lorebooks.update(book.id, { book: '{"entries":{"0":{}}}' });
    const second = await ctx.store.lorebooks.update(book.id, { book: '{"entries":{"1":{}}}' });
    const versions = [book.updatedAt, first!.updatedAt, second!.updatedAt];
    expect([...versions].sort()).toEqual(versions);
    expect(new Set(versions).size).toBe(3);
    await ctx.store.lorebooks.attach(book.id, { kind: 'character', id: 'char_x' });
    const [listed] = await ctx.store.lorebooks.attachedVersions([{ kind: 'character', id: 'char_x' }]);
    expect(listed?.updatedAt).toBe(second!.updatedAt);

    const nova = await ctx.store.characters.create(characterInputFrom({ name: 'Nova', personality: 'Warm, curious and patient.', speakingStyle: 'Short friendly sentences.' }), 'key_a');
    const edits = [await ctx.store.characters.update(nova.id, { scenario: 'One.' }), await ctx.store.characters.update(nova.id, { scenario: 'Two.' })];
    ctx.clock.set(ctx.clock.now() - 60_000);
    edits.push(await ctx.store.characters.update(nova.id, { scenario: 'Three.' }));
    const stamps = [nova.updatedAt, ...edits.map((c) => c!.updatedAt)];
    expect([...stamps].sort()).toEqual(stamps);
    expect(new Set(stamps).size).toBe(4);
    expect(edits[2]!.scenario).toBe('Three.');
  });

  it('keeps a persona per user key, changing only the parts given', async () => {
    const p = ctx.store.personas;
    expect(await p.get('telegram:1')).toBeUndefined();
    await p.set('telegram:1', { name: 'Sam' });
    expect(await p.set('telegram:1', { description: 'A sailor' })).toEqual({ name: 'Sam', description: 'A sailor' });
    expect(await p.get('telegram:1')).toEqual({ name: 'Sam', description: 'A sailor' });
    expect(await p.clear('telegram:1')).toBe(true);
    expect(await p.get('telegram:1')).toBeUndefined();
  });
});
