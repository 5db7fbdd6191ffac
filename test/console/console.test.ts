import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN_KEY } from '../http/helpers.js';
import { readFixture } from '../fixtures/cards/make.js';
import {
  browserRequired,
  buildConsole,
  CHROMIUM,
  chromiumAvailable,
  dropFile,
  focusedId,
  horizontalOverflow,
  imageLoaded,
  launchBrowser,
  pageFetchStatus,
  recordedTexts,
  recordTexts,
  SCREENSHOTS,
  scriptCookies,
  startConsoleServer,
  type ConsoleServer,
} from './browser.js';

const SKIP_REASON = `Chromium not found at ${CHROMIUM}: the console's browser tests are skipped (install it with "apt-get install -y chromium", or set CHROMIUM_PATH; CHARBRIDGE_REQUIRE_SERVICES=1 makes this a failure)`;

/** A picture that needs no network: a purple circle with a star. */
const AVATAR =
  'data:image/svg+xml,' +
  encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="5" fill="#6b3fa0"/><path d="M5 1.5l1 2.6 2.8.1-2.2 1.7.8 2.7L5 7 2.6 8.6l.8-2.7L1.2 4.2 4 4.1z" fill="#ffd54a"/></svg>');

/** Cards larger than this are refused (413); small, so the test need not upload megabytes. */
const MAX_CARD_BYTES = 65_536;

/** The local calendar date (YYYY-MM-DD) `days` from today, as a date input takes it. */
function localDate(days: number): string {
  const d = new Date();
  d.setDate(d.getDate() + days);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

if (!chromiumAvailable && !browserRequired) console.warn(SKIP_REASON);

describe.runIf(!chromiumAvailable && browserRequired)('the web console without Chromium', () => {
  it('fails because CHARBRIDGE_REQUIRE_SERVICES=1 requires a browser', () => {
    throw new Error(SKIP_REASON);
  });
});

describe.runIf(chromiumAvailable)('the web console in Chromium', () => {
  let server: ConsoleServer;
  let consoleDir: string;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const tenant = { key: '', id: '' };
  let othersCharacterId = '';

  const api = async (method: string, path: string, key: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return (await res.json()) as Record<string, any>;
  };
  /** What the API itself answers to the same upload with the tenant's key: the message the console must show. */
  const importRefusal = async (bytes: Buffer, type: string, name: string) => {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type }), name);
    const res = await fetch(`${server.url}/api/v1/characters/import`, { method: 'POST', headers: { 'x-api-key': tenant.key }, body: form });
    return { status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message };
  };
  const characterNamed = async (name: string) => {
    const list = await api('GET', `/api/v1/characters?search=${encodeURIComponent(name)}`, tenant.key);
    return list.characters.find((c: { name: string }) => c.name === name) as { id: string };
  };
  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const heading = () => page.getByRole('heading', { level: 1 });

  async function signIn(key: string) {
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  beforeAll(async () => {
    [consoleDir, browser] = await Promise.all([buildConsole(), launchBrowser()]);
    server = await startConsoleServer(consoleDir, { MAX_CARD_BYTES: String(MAX_CARD_BYTES) });
    // Several words and a pause between chunks, so the reply visibly arrives piece by piece.
    server.fake.respondWith(({ messages }) => `Starlight answers: ${String(messages.at(-1)?.content ?? '')} — and that is all for tonight.`);
    server.fake.setChunkDelay(40);
    const a = await api('POST', '/api/v1/api-keys', ADMIN_KEY, { name: 'Tenant A', credits: 50 });
    Object.assign(tenant, { key: a.key, id: a.id });
    const b = await api('POST', '/api/v1/api-keys', ADMIN_KEY, { name: 'Tenant B' });
    const secret = await api('POST', '/api/v1/characters', b.key, {
      name: 'Secret of B',
      personality: 'Private and reserved, known only to tenant B',
      speakingStyle: 'Quiet, brief and to the point always',
    });
    othersCharacterId = secret.id;
    page = await browser.context.newPage();
    // Fail a step with Playwright's own message well before the test's timeout.
    page.setDefaultTimeout(8000);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  it('refuses a wrong key next to the field, then signs in with the right one', async () => {
    await page.goto(`${server.url}/console/`);
    await expect.poll(() => heading().textContent()).toBe('charbridge console');
    await shot('00-sign-in');
    await signIn('cb_this-is-not-a-key');
    const error = page.locator('#key-error');
    await error.waitFor();
    expect(await error.textContent()).toBe('Invalid API key');
    expect(await page.getByLabel('API key').getAttribute('aria-invalid')).toBe('true');
    await shot('01-sign-in-error');

    await signIn(tenant.key);
    await expect.poll(() => heading().textContent()).toBe('Characters');
    expect(await page.getByText('Signed in as').textContent()).toContain('Tenant A');
    // The key is exchanged for an HttpOnly cookie: page scripts cannot read it.
    expect(await scriptCookies(page)).toBe('');
    await page.getByRole('heading', { name: 'Aria', level: 2 }).waitFor();
    await shot('02-characters');
  });

  it('shows the API’s validation message next to the field, then creates the character', async () => {
    await page.getByRole('link', { name: 'New character' }).click();
    await expect.poll(() => heading().textContent()).toBe('New character');
    await page.getByLabel('Name', { exact: false }).first().fill('Nova');
    await page.getByLabel('Personality').fill('too short');
    await page.getByLabel('Speaking style').fill('Bright, quick and full of cosmic metaphors');
    await page.getByRole('button', { name: 'Create character' }).click();
    const fieldError = page.locator('#cf-personality-error');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toBe('personality must be 10-2000 characters');
    await expect.poll(() => focusedId(page)).toBe('cf-personality');
    await shot('03-character-validation');

    await page.getByLabel('Personality').fill('Curious about the night sky and everyone under it');
    await page.getByLabel('Avatar URL').fill(AVATAR);
    await page.getByRole('button', { name: 'Create character' }).click();
    await page.getByText('Created Nova.').waitFor();
    await page.getByRole('heading', { name: 'Nova', level: 2 }).waitFor();
  });

  it('imports a card with the file picker and by dropping it on the list, and shows the API’s refusals', async () => {
    // The picker is a labelled file input, next in the tab order after the search form.
    await page.getByRole('button', { name: 'Search' }).focus();
    await page.keyboard.press('Tab');
    await expect.poll(() => focusedId(page)).toBe('card-import');

    await page.getByLabel('Import a card file').setInputFiles({ name: 'marisol.png', mimeType: 'image/png', buffer: readFixture('marisol.v2.png') });
    await page.getByRole('status').filter({ hasText: 'Imported Marisol Vane.' }).waitFor();
    await page.getByRole('heading', { name: 'Marisol Vane', level: 2 }).waitFor();
    // Its picture comes from the avatar route, which reads the session cookie the <img> sends.
    const avatarOf = (name: string) => page.locator('li.card').filter({ has: page.getByRole('heading', { name, level: 2 }) }).locator('img.avatar');
    const marisolAvatar = avatarOf('Marisol Vane');
    expect(await marisolAvatar.getAttribute('src')).toMatch(/^\/api\/v1\/characters\/[^/]+\/avatar\?v=/);
    await expect.poll(() => imageLoaded(marisolAvatar)).toBe(true);

    await dropFile(page, '[data-testid="character-dropzone"]', { name: 'bram.json', type: 'application/json', bytes: readFixture('bram.v1.json') });
    await page.getByRole('status').filter({ hasText: 'Imported Bram Tollver.' }).waitFor();
    await page.getByRole('heading', { name: 'Bram Tollver', level: 2 }).waitFor();
    await expect.poll(() => imageLoaded(avatarOf('Bram Tollver'))).toBe(true);
    await shot('02-characters-imported');

    // A file that is no card: the API's 400 message, as the page's alert.
    const broken = Buffer.from('this is not a picture, and not a card either');
    const refusedBroken = await importRefusal(broken, 'image/png', 'broken.png');
    expect(refusedBroken.status).toBe(400);
    await page.getByLabel('Import a card file').setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: broken });
    await page.getByRole('alert').filter({ hasText: refusedBroken.message }).waitFor();

    // A file over MAX_CARD_BYTES, dropped: the API's 413 message.
    const big = Buffer.concat([readFixture('marisol.v2.png'), Buffer.alloc(MAX_CARD_BYTES)]);
    const refusedBig = await importRefusal(big, 'image/png', 'huge.png');
    expect(refusedBig.status).toBe(413);
    await dropFile(page, '[data-testid="character-dropzone"]', { name: 'huge.png', type: 'image/png', bytes: big });
    await page.getByRole('alert').filter({ hasText: refusedBig.message }).waitFor();
    await shot('02-characters-import-refused');
    const names = (await api('GET', '/api/v1/characters?ownership=mine', tenant.key)).characters.map((c: { name: string }) => c.name).sort();
    expect(names).toEqual(['Bram Tollver', 'Marisol Vane', 'Nova']);
  });

  it('exports a character as a PNG, JSON or CHARX card download', async () => {
    const exported = async (format: string) => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: `Export Marisol Vane as ${format}` }).click()]);
      return { name: file.suggestedFilename(), bytes: readFileSync(await file.path()) };
    };
    const png = await exported('PNG');
    expect(png.name).toMatch(/\.png$/);
    expect(png.bytes.subarray(1, 4).toString()).toBe('PNG');
    const json = await exported('JSON');
    expect(json.name).toMatch(/\.json$/);
    expect(JSON.parse(json.bytes.toString('utf8'))).toMatchObject({ spec: 'chara_card_v3', data: { name: 'Marisol Vane' } });
    const charx = await exported('CHARX');
    expect(charx.name).toMatch(/\.charx$/);
    expect(charx.bytes.subarray(0, 2).toString()).toBe('PK'); // a zip
  });

  it('edits a character imported from a card: only the changed fields are sent', async () => {
    const marisol = await characterNamed('Marisol Vane');
    // The card has no speaking style, which create would refuse: an edit must not resend it.
    expect((await api('GET', `/api/v1/characters/${marisol.id}`, tenant.key)).speakingStyle).toBe('');
    await page.getByRole('link', { name: 'Edit Marisol Vane' }).click();
    await expect.poll(() => heading().textContent()).toBe('Edit character');
    await page.getByText('Imported from a character card.').waitFor();
    await expect.poll(() => imageLoaded(page.locator('.avatar-field img.avatar'))).toBe(true);
    expect(await page.getByLabel('Speaking style').inputValue()).toBe('');

    await page.getByLabel('Occupation').fill('Lighthouse keeper');
    await page.getByLabel('What to remember').fill('The ships they sailed and the ports they miss.');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved Marisol Vane.' }).waitFor();
    await shot('03-character-edit-card');
    const after = await api('GET', `/api/v1/characters/${marisol.id}`, tenant.key);
    expect(after).toMatchObject({ occupation: 'Lighthouse keeper', memoryInstructions: 'The ships they sailed and the ports they miss.', speakingStyle: '', fromCard: true });
    expect(after.description.length).toBeGreaterThan(200);

    // Emptying a field clears it; a field the user changes is still checked by the API.
    await page.getByLabel('Occupation').fill('');
    await page.getByLabel('Speaking style').fill('short');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#cf-speakingStyle-error').waitFor();
    expect(await page.locator('#cf-speakingStyle-error').textContent()).toBe('speakingStyle must be 10-1000 characters');
    await page.getByLabel('Speaking style').fill('');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved Marisol Vane.' }).waitFor();
    expect((await api('GET', `/api/v1/characters/${marisol.id}`, tenant.key)).occupation).toBeNull();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Nothing changed.' }).waitFor();
    await page.getByRole('link', { name: 'Back to characters' }).click();
    await expect.poll(() => heading().textContent()).toBe('Characters');
  });

  it('chats in the playground with a streamed reply, and /clear clears the context', async () => {
    await page.getByRole('link', { name: 'Chat with Nova' }).click();
    await expect.poll(() => heading().textContent()).toBe('Playground');
    await expect.poll(() => page.getByLabel('Character').inputValue()).not.toBe('');
    expect(await page.locator('#pg-character option:checked').textContent()).toContain('Nova');

    // Record every text the reply bubble shows, to see it grow as the stream arrives.
    await recordTexts(page, '.msg.assistant');
    await page.getByLabel('Message', { exact: true }).fill('what do the stars say');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    const final = 'Starlight answers: what do the stars say — and that is all for tonight.';
    await page.locator('.msg.assistant', { hasText: final }).waitFor();
    const seen = (await recordedTexts(page)).map((t) => t.replace(/^Nova: /, ''));
    const partial = seen.filter((t) => t !== final && t !== '…' && final.startsWith(t));
    expect(partial.length, `texts seen: ${JSON.stringify(seen)}`).toBeGreaterThan(1);
    await page.getByText('1 credit used, 49 left').waitFor();
    await shot('04-playground');

    await page.getByLabel('Message', { exact: true }).fill('/clear');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    await page.getByText('Context cleared').waitFor();
    await expect.poll(() => focusedId(page)).toBe('pg-message');
  });

  it('lists the conversation and opens its history', async () => {
    await page.getByRole('link', { name: 'Conversations' }).click();
    await expect.poll(() => heading().textContent()).toBe('Conversations');
    await page.getByRole('link', { name: 'Nova' }).click();
    await expect.poll(() => heading().textContent()).toBe('Conversation with Nova');
    await page.getByText('what do the stars say', { exact: true }).waitFor();
    await page.getByText('Starlight answers: what do the stars say — and that is all for tonight.').waitFor();
    await shot('05-conversation');
    await page.getByRole('link', { name: 'Back to conversations' }).click();
    await page.getByRole('link', { name: 'Nova' }).waitFor();
    await shot('06-conversations');
  });

  it('charts the usage', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await expect.poll(() => heading().textContent()).toBe('Usage');
    await page.getByRole('img', { name: /^Turns and model errors: 1 in all/ }).waitFor();
    await shot('07-usage');
    await page.getByLabel('Group by').selectOption('character');
    // Only the largest groups are asked for; the rest are counted in the totals.
    const asked = page.waitForRequest((r) => r.url().includes('/api/v1/usage?') && new URL(r.url()).searchParams.get('limit') === '50');
    await page.getByRole('button', { name: 'Show' }).click();
    await asked;
    await page.getByRole('rowheader', { name: 'Nova' }).waitFor();
    expect(await page.getByLabel('Group by').locator('option').allTextContents()).not.toContain('API key');
  });

  it('filters conversations by character and date, and clears and deletes one from the list', async () => {
    const marisol = await characterNamed('Marisol Vane');
    const chat = await api('POST', '/api/v1/chat', tenant.key, { characterId: marisol.id, message: 'is the light still on' });
    await page.getByRole('link', { name: 'Conversations' }).click();
    await expect.poll(() => heading().textContent()).toBe('Conversations');
    const rows = page.locator('table tbody tr');
    await expect.poll(() => rows.count()).toBe(2);

    await page.getByLabel('Character').selectOption({ label: 'Marisol Vane' });
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByRole('link', { name: 'Marisol Vane' }).waitFor();
    await shot('06-conversations-filtered');

    await page.getByRole('button', { name: 'Show all' }).click();
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByLabel('Active until').fill(localDate(-1));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No conversations match these filters.').waitFor();
    await page.getByLabel('Active until').fill('');
    await page.getByLabel('Active from').fill(localDate(0));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByRole('button', { name: 'Show all' }).click();

    await page.getByRole('button', { name: /^Clear context of the conversation with Marisol Vane/ }).click();
    await page.getByRole('status').filter({ hasText: 'Cleared the context of the conversation with Marisol Vane' }).waitFor();
    const cleared = await server.store.conversations.get(chat.sessionId);
    expect(cleared?.contextStartSeq).toBeGreaterThan(0);

    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: /^Delete the conversation with Marisol Vane/ }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted the conversation with Marisol Vane.' }).waitFor();
    await expect.poll(() => rows.count()).toBe(1);
    const gone = await fetch(`${server.url}/api/v1/conversations/${chat.sessionId}`, { headers: { 'x-api-key': tenant.key } });
    expect(gone.status).toBe(404);
  });

  it("never shows a tenant another tenant's private character", async () => {
    await page.getByRole('link', { name: 'Characters' }).click();
    await page.getByLabel('Search').fill('Secret of B');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('0 characters').waitFor();
    await page.goto(`${server.url}/console/characters/${othersCharacterId}/edit`);
    await page.getByRole('alert').filter({ hasText: 'Character not found' }).waitFor();
    await page.goto(`${server.url}/console/keys`);
    await page.getByRole('heading', { name: 'Admin only' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents()).toEqual(['Characters', 'Playground', 'Conversations', 'Usage']);
  });

  it('lets the admin create a key (shown once) and see the platforms', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    await signIn(ADMIN_KEY);
    // Signing in keeps the page that was asked for: this time the admin may see it.
    await expect.poll(() => heading().textContent()).toBe('API keys');
    expect(await page.getByText('Signed in as').textContent()).toContain('Admin (admin)');
    await expect.poll(() => heading().textContent()).toBe('API keys');
    await page.getByLabel('Name').fill('From the console');
    await page.getByLabel('Credits', { exact: true }).first().fill('lots');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#nk-credits-error').waitFor();
    expect(await page.locator('#nk-credits-error').textContent()).toBe('credits must be a number');
    await page.getByLabel('Credits', { exact: true }).first().fill('25');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.getByLabel('New API key').inputValue();
    expect(key).toMatch(/^cb_/);
    const check = await fetch(`${server.url}/api/v1/characters?limit=1`, { headers: { 'x-api-key': key } });
    expect(check.status).toBe(200);
    await shot('08-keys');
    // Keys come a hundred at a time: the rest on request.
    const before = (await server.store.apiKeys.list()).length;
    for (let i = 0; i < 120 - before; i++) await server.store.apiKeys.create({ name: `Bulk ${i}` });
    await page.goto(`${server.url}/console/keys`);
    const cards = page.getByRole('list', { name: 'API keys' }).locator(':scope > li');
    await expect.poll(() => cards.count()).toBe(100);
    await page.getByRole('button', { name: 'Show more keys' }).click();
    await expect.poll(() => cards.count()).toBe(120);
    expect(await page.getByRole('button', { name: 'Show more keys' }).count()).toBe(0);
  });

  it('shows the admin platform conversations by platform, and each adapter’s state with the proactive sends', async () => {
    // A Telegram user talks to the bot through the real adapter polling the fake Bot API.
    server.telegram.userMessage({ chat: { id: 4242, type: 'private' }, from: { id: 77, first_name: 'Ada' }, text: 'hello from the harbour' });
    await expect.poll(() => server.telegram.botMessages(4242).map((m) => m.text).join('|'), { timeout: 8000 }).toContain('Starlight answers: hello from the harbour');
    const [telegramChat] = (await server.store.conversations.list({ platform: 'telegram', page: 1, limit: 1 })).conversations;
    await server.store.proactive.addOutbox(telegramChat!.id, 'delivered', Date.now(), true);

    await page.getByRole('link', { name: 'Conversations' }).click();
    await expect.poll(() => heading().textContent()).toBe('Conversations');
    const rows = page.locator('table tbody tr');
    await page.getByLabel('Platform').selectOption('telegram');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getByRole('cell').nth(1).textContent()).toBe('telegram');
    await page.getByLabel('Platform').selectOption('api');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: 'Nova' }).waitFor();
    expect(await page.getByRole('cell', { name: 'telegram', exact: true }).count()).toBe(0);

    await page.getByRole('link', { name: 'Platforms' }).click();
    await expect.poll(() => heading().textContent()).toBe('Platforms');
    const adapter = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'telegram', exact: true }) });
    const cells = adapter.getByRole('cell');
    // Mode, connected, last event, last error, 429s waited out, sent, answering now, outbound queue.
    expect(await cells.nth(0).textContent()).toBe('polling');
    expect(await cells.nth(1).textContent()).toBe('yes');
    expect(await cells.nth(2).textContent()).not.toBe('—');
    expect(await cells.nth(3).textContent()).toBe('none');
    expect(Number(await cells.nth(5).textContent())).toBeGreaterThan(0);
    expect(await cells.nth(7).textContent()).toMatch(/^0 waiting/);
    const send = page.getByRole('region', { name: 'Recent proactive sends' }).getByRole('row').filter({ hasText: telegramChat!.id });
    expect(await send.getByRole('cell').allTextContents()).toEqual([expect.any(String), 'Default character', 'telegram', 'delivered (test)', '0', '—']);
    await shot('09-platforms');
  });

  it('works at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Playground' }).click();
    await expect.poll(() => heading().textContent()).toBe('Playground');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await shot('10-playground-phone');
    await page.getByRole('link', { name: 'Characters' }).click();
    await page.getByRole('heading', { name: 'Bram Tollver', level: 2 }).waitFor();
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await shot('10-characters-phone');
    await page.getByRole('link', { name: 'Conversations' }).click();
    await page.getByRole('link', { name: 'Nova' }).waitFor();
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  });

  it('signs out: the session cookie stops working', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    expect(await pageFetchStatus(page, '/api/v1/characters')).toBe(401);
    await shot('11-signed-out');
  });
});
