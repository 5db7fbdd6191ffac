import { expect, it } from 'vitest';
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
