/**
 * The floor for `npm run bench -- telegram-load`: the least a Telegram AI bot can do per turn, run
 * as its own process so its CPU and memory can be compared with charbridge's. Webhook in → the
 * openai SDK streams the reply → one `sendMessage`, sent again after Telegram's `retry_after`
 * when it answers 429. No store, no history, no pacing, no typing, no formatting.
 *
 * With FLOOR_DATABASE set it is the durable floor: the same bot keeping the least of what
 * charbridge promises, in SQLite (better-sqlite3, WAL, synchronous=NORMAL, as charbridge runs it):
 * the update is claimed (with its payload) before the webhook is answered, the user's message is
 * stored before the model is asked, the model gets the chat's newest 20 messages, the reply is
 * stored in one transaction, and the claim is marked done once Telegram accepted the reply.
 * Four commits a turn, like charbridge; no characters, settings, limits, memory or typing.
 *
 * Configured like charbridge, by environment: PORT, TELEGRAM_BOT_TOKEN, TELEGRAM_API_ROOT,
 * TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET, OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL.
 * Prints `ready` on stdout once the webhook is registered.
 */
import { createServer } from 'node:http';
import OpenAI from 'openai';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`telegram-floor-bot: ${name} is required`);
  return v;
}

const apiRoot = env('TELEGRAM_API_ROOT');
const token = env('TELEGRAM_BOT_TOKEN');
const hookUrl = new URL(env('TELEGRAM_WEBHOOK_URL'));
const secret = env('TELEGRAM_WEBHOOK_SECRET');
const model = process.env.OPENAI_MODEL ?? 'fake-model';
const openai = new OpenAI({ apiKey: env('OPENAI_API_KEY'), baseURL: env('OPENAI_BASE_URL'), maxRetries: 2 });

/** The durable floor's SQLite statements (loaded only when FLOOR_DATABASE is set). */
interface Durable {
  claim(updateId: number, payload: string): boolean;
  userMessage(chatId: number, text: string): Array<{ role: 'user' | 'assistant'; content: string }>;
  reply(chatId: number, text: string, tokens: number): void;
  done(updateId: number): void;
}

async function openDurable(file: string): Promise<Durable> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`create table if not exists claims (update_id integer primary key, payload text, state text not null);
    create table if not exists messages (seq integer primary key, chat_id integer not null, role text not null, content text not null, tokens integer);
    create index if not exists messages_chat on messages (chat_id, seq);`);
  const claim = db.prepare('insert into claims (update_id, payload, state) values (?, ?, ?) on conflict do nothing');
  const insert = db.prepare('insert into messages (chat_id, role, content, tokens) values (?, ?, ?, ?)');
  const history = db.prepare('select role, content from messages where chat_id = ? order by seq desc limit 20');
  const done = db.prepare("update claims set state = 'done', payload = null where update_id = ?");
  return {
    claim: (id, payload) => claim.run(id, payload, 'claimed').changes === 1,
    userMessage: (chatId, text) => {
      insert.run(chatId, 'user', text, null);
      return (history.all(chatId) as Array<{ role: 'user' | 'assistant'; content: string }>).reverse();
    },
    reply: db.transaction((chatId: number, text: string, tokens: number) => {
      insert.run(chatId, 'assistant', text, tokens);
    }),
    done: (id) => void done.run(id),
  };
}

const durable = process.env.FLOOR_DATABASE ? await openDurable(process.env.FLOOR_DATABASE) : undefined;

interface BotApiAnswer {
  ok: boolean;
  description?: string;
  parameters?: { retry_after?: number };
}

async function botApi(method: string, params: object): Promise<BotApiAnswer> {
  const res = await fetch(`${apiRoot}/bot${token}/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
  return (await res.json()) as BotApiAnswer;
}

async function sendUntilAccepted(chatId: number, text: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await botApi('sendMessage', { chat_id: chatId, text });
    if (r.ok) return;
    const wait = r.parameters?.retry_after;
    if (wait === undefined) throw new Error(`sendMessage failed: ${r.description ?? 'unknown error'}`);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

async function answer(chatId: number, text: string, updateId: number): Promise<void> {
  const messages = durable ? durable.userMessage(chatId, text) : [{ role: 'user' as const, content: text }];
  const stream = await openai.chat.completions.create({ model, stream: true, messages, ...(durable ? { stream_options: { include_usage: true } } : {}) });
  let reply = '';
  let tokens = 0;
  for await (const chunk of stream) {
    reply += chunk.choices[0]?.delta?.content ?? '';
    tokens = chunk.usage?.completion_tokens ?? tokens;
  }
  durable?.reply(chatId, reply, tokens);
  await sendUntilAccepted(chatId, reply);
  durable?.done(updateId);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== hookUrl.pathname || req.headers['x-telegram-bot-api-secret-token'] !== secret) {
    res.writeHead(403).end();
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    const body = Buffer.concat(parts).toString('utf8');
    const update = JSON.parse(body) as { update_id: number; message?: { chat: { id: number }; text?: string } };
    // A redelivered update is answered 200 and not answered twice.
    const fresh = durable ? durable.claim(update.update_id, body) : true;
    res.writeHead(200).end();
    const m = update.message;
    if (!fresh || !m?.text) return;
    answer(m.chat.id, m.text, update.update_id).catch((err: unknown) => process.stderr.write(`telegram-floor-bot: ${String(err)}\n`));
  });
});

server.listen(Number(env('PORT')), '127.0.0.1', () => {
  void (async () => {
    const r = await botApi('setWebhook', { url: hookUrl.href, secret_token: secret });
    if (!r.ok) throw new Error(`setWebhook failed: ${r.description ?? 'unknown error'}`);
    process.stdout.write('ready\n');
  })().catch((err: unknown) => {
    process.stderr.write(`telegram-floor-bot: ${String(err)}\n`);
    process.exit(1);
  });
});
process.on('SIGTERM', () => process.exit(0));
