import { afterEach, describe, expect, it } from 'vitest';
import { importCard } from '../../src/characters/cards.js';
import { platformDirectory } from '../../src/characters/platform.js';
import { characterInputFrom, openStore, type Store } from '../../src/store/index.js';
import { readFixture } from '../fixtures/cards/make.js';

let store: Store | undefined;
afterEach(async () => store?.close());

describe('platform directory', () => {
  it('gives Discord a card character’s picture through PUBLIC_URL, and a character’s own http(s) picture as is', async () => {
    store = await openStore(':memory:');
    const marisol = await importCard(store, readFixture('marisol.v2.png'), 'image/png', { ownerId: 'admin' });
    await store.characters.create({ ...characterInputFrom({ name: 'Linked', personality: 'Warm, curious and patient.', speakingStyle: 'Short friendly sentences.' }), profilePhotoUrl: 'https://img.example/linked.png' }, 'admin');
    const withUrl = platformDirectory(store, 'https://bot.example.com/');
    expect(await withUrl.avatarUrl('Marisol Vane')).toBe(`https://bot.example.com/api/v1/characters/${marisol.id}/avatar?v=${encodeURIComponent(marisol.updatedAt)}`);
    expect(await withUrl.avatarUrl('Linked')).toBe('https://img.example/linked.png');
    expect(await withUrl.avatarUrl('Nobody')).toBeUndefined();
    expect(await platformDirectory(store, undefined).avatarUrl('Marisol Vane')).toBeUndefined();
    expect(await withUrl.names()).toContain('Marisol Vane');
  });
});
