import { deflateSync } from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePng, newCard, placeholderAvatar, readCardFile, readPngChunks, readPngTexts, toCardV3Json } from '../../src/cards/index.js';
import { readFixture } from '../fixtures/cards/make.js';
import { ADMIN_KEY, errorOf, startApi, validCharacter, type ApiHarness } from './helpers.js';

let h: ApiHarness;
afterEach(async () => h?.close());

const importRaw = (key: string, body: Buffer, type: string) =>
  h.app.inject({ method: 'POST', url: '/api/v1/characters/import', headers: { 'content-type': type, 'x-api-key': key }, payload: body });

function multipart(field: string, fileName: string, type: string, bytes: Buffer): { body: Buffer; type: string } {
  const boundary = '----charbridge-test-boundary';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${fileName}"\r\nContent-Type: ${type}\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

describe('character cards over HTTP', () => {
  it('imports a PNG card as the raw body: fields, a private character of the key, its picture as the avatar', async () => {
    h = await startApi();
    const a = await h.newKey();
    const png = readFixture('marisol.v2.png');
    const res = await importRaw(a.key, png, 'image/png');
    expect(res.statusCode, res.body).toBe(201);
    const c = res.json();
    expect(c).toMatchObject({ name: 'Marisol Vane', isPublic: false, ownership: 'mine', fromCard: true, speakingStyle: '', platformVisible: false });
    expect(c.alternateGreetings).toHaveLength(2);
    expect(c.systemPrompt).toContain('{{original}}');

    const avatar = await h.call('GET', `/api/v1/characters/${c.id}/avatar`, { key: a.key });
    expect(avatar.statusCode).toBe(200);
    expect(avatar.headers['content-type']).toBe('image/png');
    expect(avatar.rawPayload.subarray(1, 4).toString()).toBe('PNG');
  });

  it('serves a private character’s avatar only with a key that sees it; presets and admin imports without one', async () => {
    h = await startApi();
    const a = await h.newKey();
    const b = await h.newKey();
    const mine = (await importRaw(a.key, readFixture('marisol.v2.png'), 'image/png')).json<{ id: string }>();
    expect((await h.call('GET', `/api/v1/characters/${mine.id}/avatar`, { key: null })).statusCode).toBe(404);
    expect((await h.call('GET', `/api/v1/characters/${mine.id}/avatar`, { key: b.key })).statusCode).toBe(404);
    const own = await h.call('GET', `/api/v1/characters/${mine.id}/avatar`, { key: a.key });
    expect(own.statusCode).toBe(200);
    expect(readPngTexts(readPngChunks(own.rawPayload))).toEqual([]); // the picture without the card chunks

    const admins = (await importRaw(ADMIN_KEY, readFixture('bram.v1.json'), 'application/json')).json<{ id: string }>();
    const open = await h.call('GET', `/api/v1/characters/${admins.id}/avatar`, { key: null });
    expect(open.statusCode).toBe(200);
    expect(open.headers['content-type']).toBe('image/png'); // a JSON card has no picture: the placeholder
    expect((await h.call('GET', '/api/v1/characters/preset_aria/avatar', { key: null })).statusCode).toBe(200);
  });

  it('takes the card as multipart field "file"', async () => {
    h = await startApi();
    const { body, type } = multipart('file', 'quill.charx', 'application/zip', readFixture('quill.charx'));
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/characters/import', headers: { 'content-type': type, 'x-api-key': (await h.newKey()).key }, payload: body });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ name: 'Quill-7 Archivist', fromCard: true });
  });

  it('answers a body that only claims to be multipart with a 400, not a 500', async () => {
    h = await startApi();
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/characters/import', headers: { 'content-type': 'multipart/form-data; boundary=x', 'x-api-key': (await h.newKey()).key }, payload: 'null' });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'file' } });
  });

  it.each(['marisol.v2.png', 'marisol.v2.json', 'quill.charx', 'quill.v3.json', 'bram.v1.json'])(
    'exports %s back as every format, each importing to the same card',
    async (name) => {
      h = await startApi();
      const a = await h.newKey();
      const original = readCardFile(readFixture(name)).card;
      const c = (await importRaw(a.key, readFixture(name), 'application/octet-stream')).json<{ id: string }>();
      for (const format of ['png', 'json', 'charx'] as const) {
        const res = await h.call('GET', `/api/v1/characters/${c.id}/export?format=${format}`, { key: a.key });
        expect(res.statusCode, res.body).toBe(200);
        const back = readCardFile(res.rawPayload).card;
        const { assets: _a, ...backRest } = toCardV3Json(back).data;
        const { assets: _b, ...origRest } = toCardV3Json(original).data;
        expect(backRest).toEqual(origRest); // assets differ only where a format adds or drops the icon
        if (format === 'png') expect(readPngTexts(readPngChunks(res.rawPayload)).map((t) => t.keyword).sort()).toEqual(['ccv3', 'chara']);
      }
    },
  );

  it('exports changes made after the import over the stored card', async () => {
    h = await startApi();
    const a = await h.newKey();
    const c = (await importRaw(a.key, readFixture('marisol.v2.json'), 'application/json')).json<{ id: string }>();
    const patched = await h.call('PATCH', `/api/v1/characters/${c.id}`, { key: a.key, body: { greeting: 'Kettle’s on.', speakingStyle: 'Dry and short, rarely asks questions' } });
    expect(patched.statusCode, patched.body).toBe(200);
    const card = readCardFile((await h.call('GET', `/api/v1/characters/${c.id}/export?format=json`, { key: a.key })).rawPayload).card;
    expect(card.first_mes).toBe('Kettle’s on.');
    expect(card.extensions['charbridge']).toEqual({ speakingStyle: 'Dry and short, rarely asks questions' });
    expect(card.character_book?.entries.length).toBeGreaterThan(0);
  });

  it('patches one field of an imported card whose other fields create would refuse; a field sent is held to create’s bounds', async () => {
    h = await startApi();
    const a = await h.newKey();
    const c = (await importRaw(a.key, readFixture('marisol.v2.json'), 'application/json')).json<{ id: string; speakingStyle: string }>();
    expect(c.speakingStyle).toBe(''); // create would refuse this: 10-1000 characters
    const patched = await h.call('PATCH', `/api/v1/characters/${c.id}`, { key: a.key, body: { occupation: 'Lighthouse keeper' } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ occupation: 'Lighthouse keeper', speakingStyle: '' });
    const resent = await h.call('PATCH', `/api/v1/characters/${c.id}`, { key: a.key, body: { occupation: null, speakingStyle: '' } });
    expect(resent.statusCode).toBe(400);
    expect(errorOf(resent).message).toBe('speakingStyle must be 10-1000 characters');
  });

  it('refuses a broken file with a 400 that says what is wrong', async () => {
    h = await startApi();
    const cases: Array<[Buffer, string, string]> = [
      [Buffer.from('not a png at all'), 'image/png', 'NOT_PNG'],
      [Buffer.from('{"spec":"chara_card_v9","data":{}}'), 'application/json', 'UNKNOWN_SPEC'],
      [Buffer.from('{"name": '), 'application/json', 'BAD_JSON'],
      [readFixture('marisol.v2.png').subarray(0, 40), 'image/png', 'BAD_PNG'],
    ];
    for (const [bytes, type, code] of cases) {
      const res = await importRaw(ADMIN_KEY, bytes, type);
      expect(res.statusCode, res.body).toBe(400);
      expect(errorOf(res).code).toBe(code);
      expect(errorOf(res).message.length).toBeGreaterThan(10);
    }
    const empty = await h.call('POST', '/api/v1/characters/import', { headers: { 'content-type': 'image/png' } });
    expect(empty.statusCode).toBe(400);
  });

  it('answers 413 for a card over MAX_CARD_BYTES, which may be larger than MAX_BODY_BYTES', async () => {
    h = await startApi({ env: { MAX_BODY_BYTES: '2048', MAX_CARD_BYTES: '200000' } });
    const png = readFixture('marisol.v2.png');
    expect(png.length).toBeGreaterThan(2048);
    const ok = await importRaw(ADMIN_KEY, png, 'image/png');
    expect(ok.statusCode, ok.body).toBe(201);
    const big = Buffer.concat([png, Buffer.alloc(200_001)]);
    const res = await importRaw(ADMIN_KEY, big, 'image/png');
    expect(res.statusCode).toBe(413);
    expect(errorOf(res).code).toBe('PAYLOAD_TOO_LARGE');
    const form = multipart('file', 'big.png', 'image/png', big);
    const viaForm = await importRaw(ADMIN_KEY, form.body, form.type);
    expect(viaForm.statusCode).toBe(413);
    expect(errorOf(viaForm).code).toBe('PAYLOAD_TOO_LARGE');
    expect(errorOf(viaForm).message).toBe('big.png is larger than 200000 bytes, the most this server takes (MAX_CARD_BYTES)');
    const wrongField = multipart('card', 'marisol.png', 'image/png', png);
    const noFile = await importRaw(ADMIN_KEY, wrongField.body, wrongField.type);
    expect(noFile.statusCode).toBe(400);
    expect(errorOf(noFile).message).toContain('multipart field "file"');
  });

  it('hides another tenant’s character from export (404)', async () => {
    h = await startApi();
    const a = await h.newKey();
    const b = await h.newKey();
    const c = (await importRaw(a.key, readFixture('marisol.v2.json'), 'application/json')).json<{ id: string }>();
    const res = await h.call('GET', `/api/v1/characters/${c.id}/export?format=json`, { key: b.key });
    expect(res.statusCode).toBe(404);
    expect((await h.call('GET', `/api/v1/characters/${c.id}/export?format=gif`, { key: a.key })).statusCode).toBe(400);
  });

  it('opens a new API session of a card character with its greeting; presets start as before', async () => {
    h = await startApi();
    const a = await h.newKey();
    const c = (await importRaw(a.key, readFixture('marisol.v2.json'), 'application/json')).json<{ id: string }>();
    const first = await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: c.id, message: 'Hello?', persona: { name: 'Ines' } } });
    expect(first.statusCode, first.body).toBe(200);
    const history = (await h.call('GET', `/api/v1/conversations/${first.json().sessionId}`, { key: a.key })).json<{ messages: Array<{ role: string; content: string }> }>();
    expect(history.messages.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant']);
    expect(history.messages[0]?.content).toContain("You'll be Ines, then");
    const preset = await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: 'Hello?' } });
    const presetHistory = (await h.call('GET', `/api/v1/conversations/${preset.json().sessionId}`, { key: a.key })).json<{ messages: unknown[] }>();
    expect(presetHistory.messages).toHaveLength(2);
  });

  it('takes a persona on v1 chat: its name is {{user}}, its description goes into the context', async () => {
    h = await startApi();
    const a = await h.newKey();
    const res = await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: 'hi', persona: { name: 'Kit', description: 'A retired sea captain' } } });
    expect(res.statusCode, res.body).toBe(200);
    const system = String(h.fake.requests.at(-1)?.body.messages[0].content);
    expect(system).toContain('talking with Kit.');
    expect(system).toMatch(/\n\nAbout Kit, who you are talking with: A retired sea captain$/);
    const bad = await h.call('POST', '/api/v1/chat', { key: a.key, body: { characterId: 'aria', message: 'hi', persona: { name: '' } } });
    expect(bad.statusCode).toBe(400);
  });

  it('lets only the admin set platformVisible, and refuses names that pass for a platform character', async () => {
    h = await startApi();
    const a = await h.newKey();
    const tenant = await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ platformVisible: true }) });
    expect(tenant.statusCode).toBe(403);
    const mine = (await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ name: 'Аria' }) })).json<{ id: string }>(); // private: no check
    const shown = await h.call('PATCH', `/api/v1/characters/${mine.id}`, { body: { platformVisible: true } });
    expect(shown.statusCode).toBe(400);
    expect(errorOf(shown)).toMatchObject({ details: { field: 'name' } });
    expect(errorOf(shown).message).toContain('looks like "Aria"');
    const publicLookAlike = await h.call('POST', '/api/v1/characters', { key: a.key, body: validCharacter({ name: 'Сaptain Rook', isPublic: true }) });
    expect(publicLookAlike.statusCode).toBe(400);

    const renamed = await h.call('PATCH', `/api/v1/characters/${mine.id}`, { key: a.key, body: { name: 'Wren' } });
    expect(renamed.statusCode).toBe(200);
    const visible = await h.call('PATCH', `/api/v1/characters/${mine.id}`, { body: { platformVisible: true } });
    expect(visible.json()).toMatchObject({ platformVisible: true });
    expect((await h.call('GET', `/api/v1/characters/${mine.id}/avatar`, { key: null })).statusCode).toBe(200);

    const card = Buffer.from(JSON.stringify({ spec: 'chara_card_v2', spec_version: '2.0', data: { name: 'Nух' } })); // Cyrillic у and х
    const adminImport = await importRaw(ADMIN_KEY, card, 'application/json');
    expect(adminImport.statusCode).toBe(400);
    expect((await importRaw(a.key, card, 'application/json')).statusCode).toBe(201); // a tenant's private import: nobody else sees it
  });

  it('holds an imported card to the key’s model allowlist, and ignores picture URLs a browser could run', async () => {
    h = await startApi();
    const a = await h.newKey();
    const card = (ext: Record<string, unknown>) =>
      Buffer.from(JSON.stringify({ spec: 'chara_card_v2', spec_version: '2.0', data: { name: 'Pricey', extensions: { charbridge: ext } } }));
    const refused = await importRaw(a.key, card({ model: 'gpt-very-expensive' }), 'application/json');
    expect(refused.statusCode).toBe(400);
    expect(errorOf(refused).details).toMatchObject({ field: 'model' });
    expect((await importRaw(ADMIN_KEY, card({ model: 'gpt-very-expensive' }), 'application/json')).json()).toMatchObject({ model: 'gpt-very-expensive' });
    const odd = await importRaw(a.key, card({ avatar: 'javascript:alert(1)', profilePhotoUrl: 'https://img.example/p.png' }), 'application/json');
    expect(odd.json()).toMatchObject({ avatar: null, profilePhotoUrl: 'https://img.example/p.png' });
  });

  it('exports a character made over the API and imports it back with every field', async () => {
    h = await startApi();
    const a = await h.newKey();
    const body = validCharacter({
      description: 'A pilot', age: 31, occupation: 'Pilot', appearanceDescription: 'Tall', canInitiateConversation: true,
      scenario: 'On a ship', greeting: 'Hello {{user}}', exampleDialogue: '{{user}}: hi', systemPrompt: '{{original}} Be brief.',
      postHistoryInstructions: 'Short.', tags: ['space'], profilePhotoUrl: 'https://img.example/a.png',
    });
    const made = (await h.call('POST', '/api/v1/characters', { key: a.key, body })).json<Record<string, unknown>>();
    for (const format of ['png', 'json', 'charx']) {
      const file = await h.call('GET', `/api/v1/characters/${made['id']}/export?format=${format}`, { key: a.key });
      const back = (await importRaw(a.key, file.rawPayload, 'application/octet-stream')).json<Record<string, unknown>>();
      const strip = ({ id: _i, slug: _s, fromCard: _f, createdAt: _c, updatedAt: _u, ...rest }: Record<string, unknown>) => rest;
      expect(strip(back)).toEqual(strip(made));
    }
  });

  it('counts imports against MAX_CHARACTERS_PER_KEY', async () => {
    h = await startApi({ env: { MAX_CHARACTERS_PER_KEY: '1' } });
    const a = await h.newKey();
    expect((await importRaw(a.key, readFixture('bram.v1.json'), 'application/json')).statusCode).toBe(201);
    const over = await importRaw(a.key, readFixture('marisol.v2.json'), 'application/json');
    expect(over.statusCode).toBe(403);
    expect(errorOf(over).code).toBe('QUOTA_EXCEEDED');
  });
});

describe('a card that unpacks past MAX_CARD_BYTES', () => {
  /** A card file of a few kilobytes that unpacks to `size` bytes of zeros. */
  const charxBomb = (size: number) =>
    Buffer.from(zipSync({ 'card.json': strToU8(JSON.stringify(toCardV3Json(newCard({ name: 'Bomb' })))), 'assets/other/zeros.bin': new Uint8Array(size) }, { level: 9 }));

  it('is refused with 413 TOO_LARGE before it fills memory or the database, a CHARX or a PNG chunk alike', async () => {
    h = await startApi({ env: { MAX_CARD_BYTES: '65536' } });
    const key = (await h.newKey()).key;
    const zip = charxBomb(4 * 1024 * 1024);
    expect(zip.length).toBeLessThan(65536);
    const res = await importRaw(key, zip, 'application/zip');
    expect(res.statusCode, res.body).toBe(413);
    expect(errorOf(res)).toMatchObject({ code: 'TOO_LARGE', message: 'The CHARX unpacks to more than 65536 bytes' });

    // The card chunk itself, compressed (iTXt), inflating past the limit.
    const padded = { ...toCardV3Json(newCard({ name: 'Padded' })), padding: 'x'.repeat(200_000) };
    const png = encodePng([
      ...readPngChunks(placeholderAvatar('Padded')).filter((c) => c.type !== 'IEND'),
      { type: 'iTXt', data: Buffer.concat([Buffer.from('ccv3\0\x01\x00\0\0', 'latin1'), deflateSync(Buffer.from(Buffer.from(JSON.stringify(padded)).toString('base64')))]) },
      { type: 'IEND', data: Buffer.alloc(0) },
    ]);
    expect(png.length).toBeLessThan(65536);
    const chunk = await importRaw(key, png, 'image/png');
    expect(chunk.statusCode, chunk.body).toBe(413);
    expect(errorOf(chunk)).toMatchObject({ code: 'TOO_LARGE', message: 'The compressed "ccv3" text chunk inflates to more than 65536 bytes' });
    expect((await h.call('GET', '/api/v1/characters', { key })).json().characters.filter((c: { ownership: string }) => c.ownership === 'mine')).toEqual([]);
  });

  it('decodes no text chunk but the card: junk chunks that would each inflate past any limit stay packed in the picture', async () => {
    h = await startApi();
    const junk = deflateSync(Buffer.alloc(80 * 1024 * 1024)); // past the 64 MB a chunk may ever inflate to
    const card = readFixture('marisol.v2.png');
    const chunks = readPngChunks(card);
    const png = encodePng([...chunks.slice(0, -1), ...[1, 2, 3].map((i) => ({ type: 'zTXt', data: Buffer.concat([Buffer.from(`junk${i}\0\0`, 'latin1'), junk]) })), chunks.at(-1)!]);
    const res = await importRaw(ADMIN_KEY, png, 'image/png');
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().name).toBe('Marisol Vane');
  });
});

describe('an imported card past the field bounds', () => {
  it('is refused with 400 BAD_FIELD naming the field, while a card with a long description of its own is taken', async () => {
    h = await startApi({ env: { MAX_BODY_BYTES: '1048576' } });
    const key = (await h.newKey()).key;
    const card = (data: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...toCardV3Json(newCard({ name: 'Long' })), data: { ...toCardV3Json(newCard({ name: 'Long' })).data, ...data } }));
    const ok = await importRaw(key, card({ description: 'word '.repeat(6000) }), 'application/json');
    expect(ok.statusCode, ok.body).toBe(201);
    for (const [data, field, message] of [
      [{ description: 'x'.repeat(32_001) }, 'description', "The card's description is 32001 characters long; at most 32000 can be imported"],
      [{ alternate_greetings: Array.from({ length: 101 }, (_, i) => `Hi ${i}`) }, 'alternateGreetings', "The card's alternateGreetings has 101 entries; at most 100 can be imported"],
      [{ first_mes: 'y'.repeat(40_000) }, 'greeting', "The card's greeting is 40000 characters long; at most 32000 can be imported"],
    ] as const) {
      const res = await importRaw(key, card(data), 'application/json');
      expect(res.statusCode, res.body).toBe(400);
      expect(errorOf(res)).toMatchObject({ code: 'BAD_FIELD', message, details: { field } });
    }
    const together = await importRaw(key, card({ description: 'a'.repeat(30_000), personality: 'b'.repeat(30_000), scenario: 'c'.repeat(30_000), mes_example: 'd'.repeat(30_000), system_prompt: 'e'.repeat(30_000) }), 'application/json');
    expect(together.statusCode).toBe(400);
    expect(errorOf(together).message).toBe("The card's texts are 150004 characters together; at most 128000 can be imported"); // with the name
  });
});
