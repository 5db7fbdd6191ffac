import { expect, it } from 'vitest';
import { characterInputFrom } from '../../src/store/index.js';
import { describeStores } from './backends.js';

const input = (name: string) => characterInputFrom({ name, personality: 'Warm, curious and patient.', speakingStyle: 'Short friendly sentences.' });

describeStores('character cards in the store', (ctx) => {
  it('keeps the card and its picture as exact bytes, loaded only on request', async () => {
    const c = await ctx.store.characters.create({ ...input('Nova'), nickname: 'Nov', alternateGreetings: ['Hi', 'Yo'], groupGreetings: ['Hey all'] }, 'key_a');
    expect(c).toMatchObject({ nickname: 'Nov', alternateGreetings: ['Hi', 'Yo'], groupGreetings: ['Hey all'], platformVisible: false, fromCard: false });
    expect(await ctx.store.characters.cardOf(c.id)).toBeUndefined();
    expect(await ctx.store.characters.avatarOf(c.id)).toBeUndefined();

    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0x00, 0x10, 0x80]);
    await ctx.store.characters.saveCard(c.id, { json: '{"card":{"name":"Nova"}}' }, { bytes, mime: 'image/png' });
    expect(await ctx.store.characters.cardOf(c.id)).toEqual({ json: '{"card":{"name":"Nova"}}' });
    const avatar = await ctx.store.characters.avatarOf(c.id);
    expect(Buffer.isBuffer(avatar?.bytes)).toBe(true);
    expect(avatar).toEqual({ bytes, mime: 'image/png' });

    const read = await ctx.store.characters.get(c.id);
    expect(read?.fromCard).toBe(true);
    expect(Object.keys(read!)).not.toContain('cardJson');
    const listed = await ctx.store.characters.list({ viewerId: 'key_a', seesAll: false, ownership: 'mine', page: 1, limit: 10 });
    expect(listed.characters.map((x) => x.fromCard)).toEqual([true]);
  });

  it('stores platform visibility and the card fields on update', async () => {
    const c = await ctx.store.characters.create(input('Echo'), 'key_a');
    const u = await ctx.store.characters.update(c.id, { platformVisible: true, nickname: 'E', alternateGreetings: ['One'] });
    expect(u).toMatchObject({ platformVisible: true, nickname: 'E', alternateGreetings: ['One'], groupGreetings: [] });
    const cleared = await ctx.store.characters.update(c.id, { nickname: null });
    expect(cleared?.nickname).toBeNull();
  });

  it('shows platform users presets, the admin’s characters, public and platform-visible ones only', async () => {
    const repo = ctx.store.characters;
    await repo.create(input('Hidden'), 'key_a');
    const shown = await repo.create({ ...input('Shown'), platformVisible: true }, 'key_a');
    await repo.create(input('Operator'), 'admin');
    await repo.create({ ...input('Open'), isPublic: true }, 'key_b');
    expect((await repo.listShared()).map((c) => c.name).sort()).toEqual(['Open', 'Operator', 'Shown']);
    expect((await repo.findByName('shown'))?.id).toBe(shown.id);
    expect(await repo.findByName('Hidden')).toBeUndefined();
  });
});
