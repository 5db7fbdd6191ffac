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
