/** A card sent in a Telegram DM with `/character import`: downloaded by the adapter, imported for the platform by an operator. */
import { afterEach, describe, expect, it } from 'vitest';
import { toInbound } from '../../../adapters/telegram/inbound.js';
import type { TgMessage } from '../../../adapters/telegram/transport.js';
import { testLogger } from '../../helpers/harness.js';
import { readFixture } from '../../fixtures/cards/make.js';
import { DM, startWorld, waitFor, type World } from './world.js';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const OPERATOR = { chat: { id: 999, type: 'private' as const }, from: { id: 999, first_name: 'Op' } };
const card = { name: 'marisol.png', mime: 'image/png', bytes: readFixture('marisol.v2.png') };

describe('Telegram: character cards', () => {
  it('an operator’s DM card becomes a platform character others can switch to, with its greeting', async () => {
    w = await startWorld();
    w.fake.userMessage({ ...OPERATOR, caption: '/character import', document: card });
    await waitFor(() => w!.texts(999).length > 0, 10_000, 'the import answer');
    expect(w.texts(999)).toEqual(['Imported Marisol Vane. Platform users can switch to it with /character Marisol Vane.']);

    w.say('/character Marisol Vane');
    await waitFor(() => w!.texts().length > 0);
    expect(w.texts()[0]).toMatch(/^Switched to Marisol Vane\./);
    w.say('/start 2');
    await waitFor(() => w!.texts().length > 1);
    expect(w.texts()[1]).toBe("*She doesn't look up from the ledger.* Name, vessel, and why you're dripping on my floor.");
  });

  it('refuses other users, and tells an operator what is wrong with a broken file', async () => {
    w = await startWorld();
    w.fake.userMessage({ ...DM, caption: '/character import', document: card });
    await waitFor(() => w!.texts().length > 0);
    expect(w.texts()[0]).toBe('Only the operators of this bot (ADMIN_USER_IDS) can import characters.');
    expect((await w.h.store.characters.listShared()).map((c) => c.name)).not.toContain('Marisol Vane');

    w.fake.userMessage({ ...OPERATOR, caption: '/character import', document: { name: 'broken.png', mime: 'image/png', bytes: Buffer.from('no png here') } });
    await waitFor(() => w!.texts(999).length > 0);
    expect(w.texts(999)[0]).toMatch(/^broken\.png was not imported: The upload is labelled PNG but lacks the 8-byte PNG signature/);
  });

  it('sets a persona that Telegram users’ characters see', async () => {
    w = await startWorld();
    w.say('/persona name Captain Ann');
    await waitFor(() => w!.texts().length > 0);
    w.say('hello');
    await waitFor(() => w!.texts().length > 1);
    const system = String(w.h.fake.requests.at(-1)?.body.messages[0].content);
    expect(system).toContain('talking with Captain Ann.');
    expect(system).not.toContain('talking with Ann.');
  });

  it('downloads a document only for a command, and never one over the cap', async () => {
    const bot = { id: 555, username: 'aria_bot' };
    const base = { message_id: 1, chat: { id: 7, type: 'private' as const }, from: { id: 7, is_bot: false, first_name: 'Bob' } };
    const downloads: string[] = [];
    const deps = { bot, log: testLogger(), isChatAdmin: async () => false, download: async (id: string) => (downloads.push(id), Buffer.from('{"name":"X"}')) };
    const big = await toInbound({ update_id: 1, message: { ...base, caption: '/character import', document: { file_id: 'big', file_name: 'big.png', mime_type: 'image/png', file_size: 11 * 1024 * 1024 } } as TgMessage }, deps);
    expect(big?.files).toEqual([{ name: 'big.png', mime: 'image/png', size: 11 * 1024 * 1024, skipped: 'too-large' }]);
    const plain = await toInbound({ update_id: 2, message: { ...base, caption: 'look at this', document: { file_id: 'doc', file_name: 'a.json', mime_type: 'application/json', file_size: 12 } } as TgMessage }, deps);
    expect(plain?.files).toBeUndefined();
    const small = await toInbound({ update_id: 3, message: { ...base, caption: '/character import', document: { file_id: 'ok', file_name: 'a.json', mime_type: 'application/json', file_size: 12 } } as TgMessage }, deps);
    expect(small?.files?.[0]?.bytes?.toString()).toBe('{"name":"X"}');
    expect(downloads).toEqual(['ok']);
  });
});
