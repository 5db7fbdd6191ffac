/** A card attached to a Discord DM with `/character import`: downloaded from the (fake) CDN, imported for the platform by an operator. */
import { afterEach, describe, expect, it } from 'vitest';
import { readFixture } from '../../fixtures/cards/make.js';
import { alice, operator, startDiscord, type Setup } from './helpers.js';

let s: Setup | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const card = { filename: 'quill.charx', content_type: 'application/zip', bytes: readFixture('quill.charx') };

describe('Discord: character cards', () => {
  it('an operator’s DM attachment becomes a platform character; a command’s attachment never reaches the model as a picture', async () => {
    s = await startDiscord();
    const { fake, texts, handled } = s;
    const dm = fake.userMessage({ author: operator, content: '/character import', attachments: [card] });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    expect(texts(dm.channel_id)[0]).toBe('Imported Quill-7 Archivist. Platform users can switch to it with /character Quill-7 Archivist.');
    expect(fake.fileDownloads).toBe(1);
    expect(handled.at(-1)).toMatchObject({ imageUrls: [], files: [{ name: 'quill.charx', size: card.bytes.length }] });
    const c = await s.h.store.characters.findByName('Quill-7 Archivist');
    expect(c).toMatchObject({ ownerId: 'admin', fromCard: true });
    const avatar = await s.h.store.characters.avatarOf(c!.id);
    expect(avatar?.mime).toBe('image/png');
  });

  it('refuses a user who is not an operator, without importing anything', async () => {
    s = await startDiscord();
    const { fake, texts } = s;
    const dm = fake.userMessage({ author: alice, content: '/character import', attachments: [card] });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    expect(texts(dm.channel_id)[0]).toBe('Only the operators of this bot (ADMIN_USER_IDS) can import characters.');
    expect(await s.h.store.characters.findByName('Quill-7 Archivist')).toBeUndefined();
  });

  it('does not download attachments of ordinary messages', async () => {
    s = await startDiscord();
    const { fake, texts, handled } = s;
    const dm = fake.userMessage({ author: operator, content: 'what do you think of this', attachments: [card] });
    await fake.waitFor(() => texts(dm.channel_id).length === 1);
    expect(handled.at(-1)?.files).toBeUndefined();
    expect(fake.fileDownloads).toBe(0);
  });
});
