/**
 * The floor for `npm run bench -- slack-load`: the least a Slack AI bot can do per turn, run as
 * its own process. Events API over HTTP (signature checked, acknowledged at once) → on a user's
 * DM the openai SDK streams the reply → one `chat.postMessage`, sent again after a 429's
 * `Retry-After`. No Bolt, no store, no history, no pacing, no streaming into Slack.
 *
 * Configured by environment: PORT, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL (ending
 * in `/api/`), OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL. Prints `ready` once listening.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import OpenAI from 'openai';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`slack-floor-bot: ${name} is required`);
  return v;
}

const token = env('SLACK_BOT_TOKEN');
const signingSecret = env('SLACK_SIGNING_SECRET');
const api = env('SLACK_API_URL').replace(/\/?$/, '/');
const model = process.env.OPENAI_MODEL ?? 'fake-model';
const openai = new OpenAI({ apiKey: env('OPENAI_API_KEY'), baseURL: env('OPENAI_BASE_URL'), maxRetries: 2 });

async function postMessage(channel: string, text: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await fetch(`${api}chat.postMessage`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ channel, text }) });
    const body = (await res.json()) as { ok: boolean; error?: string };
    if (body.ok) return;
    const wait = Number(res.headers.get('retry-after'));
    if (res.status !== 429 || !Number.isFinite(wait)) throw new Error(`chat.postMessage failed: ${body.error ?? res.status}`);
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
}

async function answer(channel: string, text: string): Promise<void> {
  const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: text }] });
  let reply = '';
  for await (const chunk of stream) reply += chunk.choices[0]?.delta?.content ?? '';
  await postMessage(channel, reply);
}

function signed(raw: string, timestamp: string | undefined, signature: string | undefined): boolean {
  if (!timestamp || !signature || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${raw}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(parts).toString('utf8');
    if (req.method !== 'POST' || !signed(raw, req.headers['x-slack-request-timestamp'] as string | undefined, req.headers['x-slack-signature'] as string | undefined)) {
      res.writeHead(401).end();
      return;
    }
    const body = JSON.parse(raw) as { type: string; challenge?: string; event?: { type: string; channel_type?: string; channel: string; text?: string; bot_id?: string; subtype?: string } };
    if (body.type === 'url_verification') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(body.challenge ?? '');
      return;
    }
    res.writeHead(200).end();
    const e = body.event;
    if (e?.type !== 'message' || e.channel_type !== 'im' || e.bot_id || e.subtype || !e.text) return;
    answer(e.channel, e.text).catch((err: unknown) => process.stderr.write(`slack-floor-bot: ${String(err)}\n`));
  });
});
server.listen(Number(env('PORT')), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
