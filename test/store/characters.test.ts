import { expect, it } from 'vitest';
import { characterInputFrom, type CharacterInput, type CharacterListQuery } from '../../src/store/index.js';
import { describeStores } from './backends.js';

const card = (name: string, over: Partial<CharacterInput> = {}): CharacterInput =>
  characterInputFrom({ name, personality: 'Warm, curious and patient.', speakingStyle: 'Short friendly sentences.' }, over);

describeStores('CharacterRepo', (ctx) => {
  it('creates with every field round-tripping, and gets by id', async () => {
    const c = await ctx.store.characters.create(
      card('Nova Quinn', { description: 'A pilot', gender: 'female', age: 31, occupation: 'Pilot', tags: ['space', 'calm'], isPublic: true, canInitiateConversation: true, model: 'm-1' }),
      'key_a',
    );
    expect(c).toMatchObject({ slug: 'nova-quinn', ownerId: 'key_a', isPreset: false, isPublic: true, canInitiateConversation: true, age: 31, tags: ['space', 'calm'], model: 'm-1' });
    expect(await ctx.store.characters.get(c.id)).toEqual(c);
    expect(await ctx.store.characters.get('char_missing')).toBeUndefined();
  });

  it('suffixes slugs per owner, including an explicit slug that is taken', async () => {
    const a = await ctx.store.characters.create(card('Echo'), 'key_a');
    const b = await ctx.store.characters.create(card('Echo'), 'key_a');
    const other = await ctx.store.characters.create(card('Echo'), 'key_b');
    const explicit = await ctx.store.characters.create(card('Something', { slug: 'echo' }), 'key_a');
    expect([a.slug, b.slug, other.slug, explicit.slug]).toEqual(['echo', 'echo-2', 'echo', 'echo-3']);
  });

  it("counts an owner's characters, and only theirs", async () => {
    await ctx.store.characters.create(card('One'), 'key_q');
    const two = await ctx.store.characters.create(card('Two'), 'key_q');
    await ctx.store.characters.create(card('Other'), 'key_r');
    expect(await ctx.store.characters.countOwned('key_q')).toBe(2);
    await ctx.store.characters.delete(two.id);
    expect(await ctx.store.characters.countOwned('key_q')).toBe(1);
    expect(await ctx.store.characters.countOwned('key_none')).toBe(0);
  });

  it('updates fields and re-derives the slug only when the name changes', async () => {
    const c = await ctx.store.characters.create(card('Old Name'), 'key_a');
    await ctx.store.characters.create(card('New Name'), 'key_a');
    ctx.clock.advance(1000);
    const same = await ctx.store.characters.update(c.id, { occupation: 'Baker', isPublic: true });
    expect(same).toMatchObject({ slug: 'old-name', occupation: 'Baker', isPublic: true });
    expect(same!.updatedAt > c.updatedAt).toBe(true);
    const renamed = await ctx.store.characters.update(c.id, { name: 'New Name' });
    expect(renamed).toMatchObject({ name: 'New Name', slug: 'new-name-2' });
    expect(await ctx.store.characters.update('char_missing', { name: 'X' })).toBeUndefined();
  });

  it('finds visible characters by id or slug: own before preset before public, private hidden', async () => {
    const preset = await ctx.store.characters.upsertPreset({ ...card('Aria'), slug: 'aria' });
    const own = await ctx.store.characters.create(card('Aria'), 'key_a');
    const publicOther = await ctx.store.characters.create(card('Aria', { isPublic: true }), 'key_b');
    const privateOther = await ctx.store.characters.create(card('Hidden'), 'key_b');
    expect((await ctx.store.characters.findVisible('ARIA', 'key_a'))?.id).toBe(own.id);
    expect((await ctx.store.characters.findVisible('aria', 'key_c'))?.id).toBe(preset.id);
    expect((await ctx.store.characters.findVisible('aria', null))?.id).toBe(preset.id);
    expect((await ctx.store.characters.findVisible(publicOther.id, 'key_c'))?.id).toBe(publicOther.id);
    expect(await ctx.store.characters.findVisible(privateOther.id, 'key_c')).toBeUndefined();
    expect(await ctx.store.characters.findVisible('hidden', 'key_c')).toBeUndefined();
    expect((await ctx.store.characters.findVisible('hidden', 'key_b'))?.id).toBe(privateOther.id);
    // The admin's rule: any character by id, but by slug only its own, presets and public ones.
    expect((await ctx.store.characters.findVisible(privateOther.id, 'admin', { anyById: true }))?.id).toBe(privateOther.id);
    expect(await ctx.store.characters.findVisible('hidden', 'admin', { anyById: true })).toBeUndefined();
  });

  it('finds presets and public characters by name or slug, case-insensitively', async () => {
    await ctx.store.characters.upsertPreset({ ...card('Captain Rex'), slug: 'captain-rex' });
    const pub = await ctx.store.characters.create(card('Luna Park', { isPublic: true }), 'key_a');
    await ctx.store.characters.create(card('Private Pete'), 'key_a');
    expect((await ctx.store.characters.findByName('  captain REX '))?.slug).toBe('captain-rex');
    expect((await ctx.store.characters.findByName('luna-park'))?.id).toBe(pub.id);
    expect(await ctx.store.characters.findByName('Private Pete')).toBeUndefined();
  });

  it('lists shared characters presets first, then by name', async () => {
    await ctx.store.characters.create(card('Alpha', { isPublic: true }), 'key_a');
    await ctx.store.characters.upsertPreset({ ...card('Zed'), slug: 'zed' });
    await ctx.store.characters.upsertPreset({ ...card('Bea'), slug: 'bea' });
    await ctx.store.characters.create(card('Private'), 'key_a');
    expect((await ctx.store.characters.listShared()).map((c) => c.name)).toEqual(['Bea', 'Zed', 'Alpha']);
    expect(await ctx.store.characters.listShared(1)).toHaveLength(1);
  });

  it('pages a filtered list with a matching total; % and _ in a search match themselves', async () => {
    await ctx.store.characters.upsertPreset({ ...card('Preset P'), slug: 'preset-p' });
    await ctx.store.characters.create(card('100% Real', { occupation: 'Chef', gender: 'male', age: 40 }), 'key_a');
    await ctx.store.characters.create(card('1000 Real', { occupation: 'Sous chef', gender: 'female', age: 25 }), 'key_a');
    await ctx.store.characters.create(card('snake_case', { description: 'under_score', isPublic: true }), 'key_b');
    await ctx.store.characters.create(card('Secret'), 'key_b');
    const base: CharacterListQuery = { viewerId: 'key_a', seesAll: false, ownership: 'all', page: 1, limit: 10 };
    const names = async (q: Partial<CharacterListQuery>) => (await ctx.store.characters.list({ ...base, ...q })).characters.map((c) => c.name);
    expect(await names({})).toEqual(['Preset P', '100% Real', '1000 Real', 'snake_case']);
    expect(await names({ seesAll: true })).toHaveLength(5);
    expect(await names({ ownership: 'mine' })).toEqual(['100% Real', '1000 Real']);
    expect(await names({ ownership: 'presets' })).toEqual(['Preset P']);
    expect(await names({ ownership: 'public' })).toEqual(['snake_case']);
    expect(await names({ search: '100%' })).toEqual(['100% Real']);
    expect(await names({ search: 'E_C' })).toEqual(['snake_case']);
    expect(await names({ search: 'R_SCORE' })).toEqual(['snake_case']);
    expect(await names({ occupation: 'CHEF' })).toEqual(['100% Real', '1000 Real']);
    expect(await names({ gender: 'female' })).toEqual(['1000 Real']);
    expect(await names({ ageMin: 30 })).toEqual(['100% Real']);
    expect(await names({ ageMax: 30 })).toEqual(['1000 Real']);
    const page2 = await ctx.store.characters.list({ ...base, page: 2, limit: 3 });
    expect(page2.total).toBe(4);
    expect(page2.characters.map((c) => c.name)).toEqual(['snake_case']);
  });

  it('upserts presets idempotently by slug, keeping id and creation time', async () => {
    const first = await ctx.store.characters.upsertPreset({ ...card('Sage'), slug: 'sage' });
    ctx.clock.advance(60_000);
    const again = await ctx.store.characters.upsertPreset({ ...card('Sage', { occupation: 'Monk', isPublic: false }), slug: 'sage' });
    expect(again).toMatchObject({ id: first.id, createdAt: first.createdAt, occupation: 'Monk', isPreset: true, isPublic: true });
    expect(again.updatedAt > first.updatedAt).toBe(true);
  });

  it('deletes', async () => {
    const c = await ctx.store.characters.create(card('Gone'), 'key_a');
    expect(await ctx.store.characters.delete(c.id)).toBe(true);
    expect(await ctx.store.characters.delete(c.id)).toBe(false);
    expect(await ctx.store.characters.get(c.id)).toBeUndefined();
  });
});
