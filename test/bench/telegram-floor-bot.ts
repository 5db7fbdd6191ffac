/**
 * The floor for `npm run bench -- telegram-load`: the least a Telegram AI bot can do per turn, run
 * as its own process so its CPU and memory can be compared with charbridge's. Webhook in → the
 * openai SDK streams the reply → one `sendMessage`, sent again after Telegram's `retry_after`
 * when it answers 429. No store, no history, no pacing, no typing, no formatting.
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

async function answer(chatId: number, text: string): Promise<void> {
  const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: text }] });
  let reply = '';
  for await (const chunk of stream) reply += chunk.choices[0]?.delta?.content ?? '';
  await sendUntilAccepted(chatId, reply);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== hookUrl.pathname || req.headers['x-telegram-bot-api-secret-token'] !== secret) {
    res.writeHead(403).end();
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    res.writeHead(200).end();
    const update = JSON.parse(Buffer.concat(parts).toString('utf8')) as { message?: { chat: { id: number }; text?: string } };
    const m = update.message;
    if (!m?.text) return;
    answer(m.chat.id, m.text).catch((err: unknown) => process.stderr.write(`telegram-floor-bot: ${String(err)}\n`));
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
