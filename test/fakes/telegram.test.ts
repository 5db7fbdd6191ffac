/**
 * Proves the fake Telegram server (./telegram.ts) against the real telegraf client: polling,
 * command matching, long-poll parking, duplicate delivery, API errors, flood limits, members,
 * files and webhook mode. Limits are scaled down or driven by an injected clock, never waited out.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Telegraf, TelegramError } from 'telegraf';
import { message } from 'telegraf/filters';
import { startFakeTelegram, type FakeTelegram, type FakeTelegramOptions } from './telegram.js';

const NO_LIMITS: FakeTelegramOptions['limits'] = { chatMinIntervalMs: 0, groupPerWindow: 1e6, globalPerSecond: 1e6 };

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeTelegram(opts: FakeTelegramOptions = { limits: NO_LIMITS }): Promise<FakeTelegram> {
  const fake = await startFakeTelegram(opts);
  cleanups.push(() => fake.close());
  return fake;
}

function newBot(fake: FakeTelegram, token = fake.token): Telegraf {
  const bot = new Telegraf(token, { telegram: { apiRoot: fake.apiRoot } });
  bot.catch((err) => {
    throw err;
  });
  return bot;
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Starts polling. launch() resolves only when polling stops, and its callback fires after
 * getMe but before polling exists (bot.stop() would throw "Bot is not running!"), so wait
 * for the first parked getUpdates instead.
 */
async function launch(fake: FakeTelegram, bot: Telegraf): Promise<void> {
  const polling = bot.launch(() => undefined);
  polling.catch(() => undefined);
  await waitFor(() => fake.pendingPolls > 0);
  cleanups.push(async () => {
    bot.stop('test end');
    await polling.catch(() => undefined); // a 409 Conflict, for one, ends polling with a rejection
  });
}

/** Raw Bot API call, for things telegraf does not expose (status codes, drafts). */
async function raw(fake: FakeTelegram, method: string, body: object, token = fake.token) {
  const res = await fetch(`${fake.apiRoot}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function rejection(p: Promise<unknown>): Promise<TelegramError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TelegramError);
  return err as TelegramError;
}

const dm = { chat: { id: 42, type: 'private' as const }, from: { id: 42, first_name: 'Ann', username: 'ann_test' } };
const group = { chat: { id: -100123, type: 'supergroup' as const, title: 'Crew' }, from: { id: 7, first_name: 'Bob' } };

describe('fake Telegram with real telegraf', () => {
  it('polls a text message and replies to it', async () => {
    const fake = await fakeTelegram();
    const bot = newBot(fake);
    bot.on(message('text'), (ctx) => ctx.reply(`echo: ${ctx.message.text}`));
    await launch(fake, bot);
    expect(fake.calls.map((c) => c.method).slice(0, 2)).toEqual(['getMe', 'deleteWebhook']);

    fake.userMessage({ ...dm, text: 'hello' });
    await waitFor(() => fake.botMessages(42).length === 1);
    const [reply] = fake.botMessages(42);
    expect(reply).toMatchObject({ text: 'echo: hello', edits: 0 });
    const sent = fake.calls.find((c) => c.method === 'sendMessage');
    expect(sent).toMatchObject({ status: 200, ok: true, params: { chat_id: 42, text: 'echo: hello' } });
  });

  it('routes /start and /start@ourbot to bot.command but not /start@otherbot', async () => {
    const fake = await fakeTelegram();
    const bot = newBot(fake);
    const commands: string[] = [];
    const others: string[] = [];
    bot.command('start', (ctx) => void commands.push(ctx.message.text));
    bot.on(message('text'), (ctx) => void others.push(ctx.message.text));
    await launch(fake, bot);

    for (const text of ['/start', `/start@${fake.bot.username}`, '/start@otherbot', 'hi @someone_else']) {
      fake.userMessage({ ...group, text });
    }
    await waitFor(() => commands.length + others.length === 4);
    expect(commands.sort()).toEqual(['/start', `/start@${fake.bot.username}`]);
    expect(others.sort()).toEqual(['/start@otherbot', 'hi @someone_else']);
    const built = fake.buildUserMessage({ ...group, text: 'hi @someone_else' });
    expect(built.message.entities).toEqual([{ type: 'mention', offset: 3, length: 13 }]);
  });

  it('parks getUpdates until an update arrives, and releases it on abort', async () => {
    const fake = await fakeTelegram();
    const bot = newBot(fake);
    const seen: number[] = [];
    bot.on(message('text'), (ctx) => void seen.push(Date.now()));
    await launch(fake, bot);

    await new Promise((r) => setTimeout(r, 100));
    expect(fake.pendingPolls).toBe(1);
    expect(fake.calls.filter((c) => c.method === 'getUpdates')).toHaveLength(0); // still parked
    const pushedAt = Date.now();
    fake.userMessage({ ...dm, text: 'late' });
    await waitFor(() => seen.length === 1);
    expect(seen[0]! - pushedAt).toBeLessThan(500);

  });

  it('long-polls raw getUpdates: offset confirms, limit caps, timeout and abort release', async () => {
    const fake = await fakeTelegram();
    const poll = (body: object, signal?: AbortSignal) =>
      fetch(`${fake.apiRoot}/bot${fake.token}/getUpdates`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      }).then(async (r) => ((await r.json()) as any).result as any[]);
    const a = fake.userMessage({ ...dm, text: 'a' });
    const b = fake.userMessage({ ...dm, text: 'b' });
    expect((await poll({ limit: 1 })).map((u) => u.update_id)).toEqual([a.update_id]);
    expect((await poll({ offset: b.update_id })).map((u) => u.update_id)).toEqual([b.update_id]); // confirms a
    expect((await poll({})).map((u) => u.update_id)).toEqual([b.update_id]);

    const started = Date.now();
    expect(await poll({ offset: b.update_id + 1, timeout: 1 })).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    const parked = poll({ offset: b.update_id + 1, timeout: 30 });
    await waitFor(() => fake.pendingPolls === 1);
    setTimeout(() => fake.pushUpdate({ callback_query: { id: 'cb', data: 'x' } }), 50);
    expect((await parked).map((u) => Object.keys(u).sort())).toEqual([['callback_query', 'update_id']]);

    const first = poll({ offset: 1e9, timeout: 30 }).catch(() => 'failed');
    await waitFor(() => fake.pendingPolls === 1);
    const second = poll({ offset: 1e9, timeout: 0 });
    expect(await second).toEqual([]);
    expect(await first).toBeUndefined(); // 409 Conflict: terminated by other getUpdates request
    expect(fake.calls.filter((c) => c.status === 409)).toHaveLength(1);

    const ctl = new AbortController();
    const aborted = poll({ offset: 1e9, timeout: 30 }, ctl.signal).catch((e: Error) => e.name);
    await waitFor(() => fake.pendingPolls === 1);
    ctl.abort();
    expect(await aborted).toBe('AbortError');
    await waitFor(() => fake.pendingPolls === 0 && fake.calls.some((c) => c.status === 499));
  });

  it('keeps forum threads and replies to bot messages', async () => {
    const fake = await fakeTelegram();
    const bot = newBot(fake);
    bot.on(message('text'), async (ctx) => {
      const thread = ctx.message.message_thread_id;
      await ctx.reply(`re: ${ctx.message.text}`, {
        reply_parameters: { message_id: ctx.message.message_id },
        ...(thread ? { message_thread_id: thread } : {}),
      });
    });
    await launch(fake, bot);
    const forum = { chat: { id: -100777, type: 'supergroup' as const, title: 'Forum', is_forum: true }, from: { id: 7 } };
    fake.userMessage({ ...forum, text: 'in topic', threadId: 3 });
    await waitFor(() => fake.botMessages(-100777, 3).length === 1);
    const [first] = fake.botMessages(-100777, 3);
    expect(first!.text).toBe('re: in topic');
    const sent = fake.calls.find((c) => c.method === 'sendMessage' && c.ok);
    expect(sent!.params).toMatchObject({ message_thread_id: 3, reply_parameters: { message_id: 1 } });

    const update = fake.userMessage({ ...forum, text: 'follow-up', threadId: 3, replyToBotMessageId: first!.message_id });
    expect(update.message).toMatchObject({ is_topic_message: true, reply_to_message: { message_id: 2, from: { is_bot: true } } });
    await waitFor(() => fake.botMessages(-100777, 3).length === 2);
    expect(fake.botMessages(-100777)).toHaveLength(2);
    expect(fake.botMessages(-100777, 4)).toEqual([]);
  });

  it('delivers a duplicated update twice with the same update_id', async () => {
    const fake = await fakeTelegram();
    const bot = newBot(fake);
    const ids: number[] = [];
    bot.on(message('text'), (ctx) => void ids.push(ctx.update.update_id));
    await launch(fake, bot);
    const update = fake.userMessage({ ...dm, text: 'twice', duplicate: true });
    await waitFor(() => ids.length === 2);
    expect(ids).toEqual([update.update_id, update.update_id]);
    fake.userMessage({ ...dm, text: 'once' });
    await waitFor(() => ids.length === 3);
    expect(ids[2]).toBe(update.update_id + 1);
  });

  it('maps API errors to TelegramError: not modified, not found, parse errors, lengths, token', async () => {
    const fake = await fakeTelegram();
    const tg = newBot(fake).telegram;
    const sent = await tg.sendMessage(42, 'hi', { reply_parameters: { message_id: 999, allow_sending_without_reply: true } });
    expect(sent).toMatchObject({ message_id: 1, text: 'hi', from: { is_bot: true, username: 'charbridge_test_bot' }, chat: { id: 42 } });

    const same = await rejection(tg.editMessageText(42, sent.message_id, undefined, 'hi'));
    expect(same.code).toBe(400);
    expect(same.description).toContain('Bad Request: message is not modified');
    expect((await rejection(tg.editMessageText(42, 77, undefined, 'x'))).description).toBe('Bad Request: message to edit not found');

    const edited = (await tg.editMessageText(42, sent.message_id, undefined, '*hi* there', { parse_mode: 'MarkdownV2' })) as any;
    expect(edited).toMatchObject({ text: 'hi there', entities: [{ type: 'bold', offset: 0, length: 2 }] });
    expect(edited.edit_date).toBeTypeOf('number');
    expect(fake.botMessages(42)).toEqual([
      { message_id: 1, text: 'hi there', edits: 1, parse_mode: 'MarkdownV2', raw: '*hi* there', entities: [{ type: 'bold', offset: 0, length: 2 }] },
    ]);

    const md = await rejection(tg.sendMessage(42, 'Version 1.0', { parse_mode: 'MarkdownV2' }));
    expect(md.description).toBe("Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'");
    expect((await rejection(tg.sendMessage(42, '*open', { parse_mode: 'MarkdownV2' }))).description).toBe(
      "Bad Request: can't parse entities: Can't find end of Bold entity at byte offset 0",
    );
    expect((await rejection(tg.sendMessage(42, '<b>bold', { parse_mode: 'HTML' }))).description).toBe(
      'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "b"',
    );
    expect((await rejection(tg.sendMessage(42, 'a <foo> b', { parse_mode: 'HTML' }))).description).toContain('Unsupported start tag "foo"');
    const html = await tg.sendMessage(42, '<b>x</b> &lt;3 <a href="https://e.x">link</a>', { parse_mode: 'HTML' });
    expect(html.text).toBe('x <3 link');
    expect(html.entities).toEqual([
      { type: 'bold', offset: 0, length: 1 },
      { type: 'text_link', offset: 5, length: 4, url: 'https://e.x' },
    ]);

    expect((await rejection(tg.sendMessage(42, ' '))).description).toBe('Bad Request: message text is empty');
    expect((await rejection(tg.sendMessage(42, 'x'.repeat(4097)))).description).toBe('Bad Request: message is too long');
    expect((await rejection(tg.sendMessage(42, 'r', { reply_parameters: { message_id: 999 } }))).description).toBe(
      'Bad Request: message to be replied not found',
    );
    const reply = await tg.sendMessage(42, 'r', { reply_parameters: { message_id: 1 } });
    expect(reply.reply_to_message).toMatchObject({ message_id: 1, text: 'hi there' });

    const unauthorized = await rejection(newBot(fake, '1:wrong').telegram.getMe());
    expect(unauthorized.code).toBe(401);
    expect((await raw(fake, 'getMe', {}, '1:wrong')).status).toBe(401);
    expect(await raw(fake, 'noSuchMethod', {})).toEqual({ status: 404, json: { ok: false, error_code: 404, description: 'Not Found' } });
  });

  it('supports sendMessageDraft unless disabled, plus commands, actions and deletes', async () => {
    const fake = await fakeTelegram();
    const tg = newBot(fake).telegram;
    const callDraft = (t: typeof tg, payload: object) => (t.callApi as (m: string, p: object) => Promise<unknown>)('sendMessageDraft', payload);
    expect(await callDraft(tg, { chat_id: 42, draft_id: 5, text: 'thinking…' })).toBe(true);
    expect(fake.drafts).toEqual([{ chat_id: 42, draft_id: 5, text: 'thinking…' }]);

    const old = await fakeTelegram({ draftsSupported: false });
    const err = await rejection(callDraft(newBot(old).telegram, { chat_id: 42, draft_id: 5, text: 'x' }));
    expect([err.code, err.description]).toEqual([404, 'Not Found']);

    await tg.setMyCommands([{ command: 'start', description: 'Start' }]);
    expect(await tg.getMyCommands()).toEqual([{ command: 'start', description: 'Start' }]);
    expect((await rejection(tg.setMyCommands([{ command: 'Bad-Name', description: 'x' }]))).description).toBe('Bad Request: BOT_COMMAND_INVALID');
    expect(await tg.sendChatAction(42, 'typing')).toBe(true);
    const m = await tg.sendMessage(42, 'bye');
    expect(await tg.deleteMessage(42, m.message_id)).toBe(true);
    expect(fake.botMessages(42)).toEqual([]);
    expect(await tg.answerCbQuery('cb1')).toBe(true);
    // form-encoded bodies work too
    const form = await fetch(`${fake.apiRoot}/bot${fake.token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ chat_id: '42', text: 'via form', reply_markup: '{"inline_keyboard":[]}' }),
    });
    expect(((await form.json()) as any).result).toMatchObject({ text: 'via form', reply_markup: { inline_keyboard: [] } });
  });

  it('enforces flood limits with 429 retry_after, penalties and scaled windows', async () => {
    let clock = 1_000_000;
    const fake = await fakeTelegram({ now: () => clock, limits: { chatMinIntervalMs: 50, groupPerWindow: 3, groupWindowMs: 10_000, globalPerSecond: 5 } });
    const tg = newBot(fake).telegram;

    await tg.sendMessage(42, 'one');
    const err = await rejection(tg.sendMessage(42, 'two'));
    expect(err.code).toBe(429);
    expect(err.parameters?.retry_after).toBe(1);
    expect(err.description).toBe('Too Many Requests: retry after 1');
    clock += 60; // past the 50 ms window but inside the 1 s penalty Telegram imposes
    expect((await rejection(tg.editMessageText(42, 1, undefined, 'edit'))).code).toBe(429);
    clock += 1000;
    await tg.sendMessage(42, 'two');
    expect(fake.tooManyRequests).toBe(2);

    for (const t of ['a', 'b', 'c']) {
      await tg.sendMessage(-100123, t);
      clock += 100;
    }
    const groupErr = await rejection(tg.sendMessage(-100123, 'd'));
    expect(groupErr.parameters?.retry_after).toBe(10); // ceil((10000 - 300) / 1000)

    clock += 20_000;
    for (const chat of [1, 2, 3, 4, 5]) await tg.sendMessage(chat, 'x');
    const globalErr = await rejection(tg.sendMessage(6, 'x'));
    expect(globalErr.parameters?.retry_after).toBe(1);
    fake.resetFlood();
    await tg.sendMessage(6, 'x');
    expect(fake.calls.filter((c) => c.status === 429)).toHaveLength(4);
  });

  it('answers getChatMember, getFile and file downloads', async () => {
    const fake = await fakeTelegram();
    const tg = newBot(fake).telegram;
    fake.setChatMember(-100123, 7, 'administrator');
    expect((await tg.getChatMember(-100123, 7)).status).toBe('administrator');
    expect((await tg.getChatMember(-100123, 8)).status).toBe('member');
    fake.setChatMember(-100123, 9, 'kicked');
    expect(await tg.getChatMember(-100123, 9)).toMatchObject({ status: 'kicked', until_date: 0, user: { id: 9 } });

    const update = fake.buildUserMessage({ ...dm, document: true, caption: 'see @ann_test' });
    const doc = update.message.document;
    const file = await tg.getFile(doc.file_id);
    expect(file).toMatchObject({ file_id: doc.file_id, file_size: doc.file_size });
    const link = await tg.getFileLink(doc.file_id);
    expect(link.href).toBe(`${fake.apiRoot}/file/bot${fake.token}/${file.file_path}`);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello from a fake document\n');
    expect((await rejection(tg.getFile('nope'))).description).toBe('Bad Request: invalid file_id');

    const photo = fake.buildUserMessage({ ...dm, photo: true }).message.photo;
    const bytes = Buffer.from(await (await fetch(await tg.getFileLink(photo.at(-1).file_id))).arrayBuffer());
    expect(bytes.length).toBe(photo.at(-1).file_size);
  });

  it('round-trips webhook mode with a secret token and executes webhook replies', async () => {
    const fake = await fakeTelegram();
    const bot = newBot(fake);
    bot.on(message('text'), async (ctx) => {
      await ctx.sendChatAction('typing'); // answered inside the webhook response (webhookReply)
      await ctx.reply(`pong: ${ctx.message.text}`);
    });
    const server: Server = createServer(bot.webhookCallback('/tg-hook', { secretToken: 's3cret' }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tg-hook`;

    await bot.telegram.setWebhook(url, { secret_token: 's3cret' });
    expect((await bot.telegram.getWebhookInfo()).url).toBe(url);
    expect((await raw(fake, 'getUpdates', {})).json.error_code).toBe(409);

    const ok = await fake.postWebhook(url, fake.buildUserMessage({ ...dm, text: 'ping' }), 's3cret');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ method: 'sendChatAction', chat_id: 42, action: 'typing' });
    expect(fake.calls.find((c) => c.method === 'sendChatAction')).toMatchObject({ status: 200, params: { chat_id: 42 }, viaWebhookReply: true });
    // The webhook reply ended the HTTP response while the handler was still running.
    await waitFor(() => fake.botMessages(42).length === 1);
    expect(fake.botMessages(42).map((m) => m.text)).toEqual(['pong: ping']);

    const wrong = await fake.postWebhook(url, fake.buildUserMessage({ ...dm, text: 'evil' }), 'nope');
    expect(wrong.status).toBe(403);
    expect(fake.botMessages(42)).toHaveLength(1);
    await bot.telegram.deleteWebhook();
  });

  it('delivers to the webhook the bot registered, with its secret, and tells listeners about each call', async () => {
    const fake = await fakeTelegram();
    const bot = newBot(fake);
    bot.on(message('text'), (ctx) => ctx.reply(`pong: ${ctx.message.text}`));
    const server: Server = createServer(bot.webhookCallback('/hook', { secretToken: 'registered' }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const seen: string[] = [];
    const unsubscribe = fake.onCall((c) => seen.push(`${c.method} ${c.status}`));

    const update = fake.buildUserMessage({ ...dm, text: 'ping' });
    await expect(fake.deliver(update)).rejects.toThrow('needs a webhook');
    await bot.telegram.setWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, { secret_token: 'registered' });
    expect((await fake.deliver(update)).status).toBe(200);
    await waitFor(() => fake.botMessages(42).length === 1);
    expect(fake.botMessages(42)[0]!.text).toBe('pong: ping');
    const withoutGetMe = () => seen.filter((c) => !c.startsWith('getMe')); // telegraf asks getMe on its first update
    expect(withoutGetMe()).toEqual(['setWebhook 200', 'sendMessage 200']);
    unsubscribe();
    await bot.telegram.deleteWebhook();
    expect(withoutGetMe()).toHaveLength(2);
  });
});
