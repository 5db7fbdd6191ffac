/**
 * The floor for `npm run bench -- discord-load`: the least a Discord AI bot can do per turn, run
 * as its own process. A raw gateway connection (HELLO → IDENTIFY, heartbeats) → on a user's
 * MESSAGE_CREATE the openai SDK streams the reply → one `POST /channels/:id/messages`, sent again
 * after the 429's `retry_after`. No discord.js, no store, no history, no pacing, no typing.
 *
 * Configured by environment: DISCORD_TOKEN, DISCORD_API_URL (`http://host:port/api`),
 * OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL. Prints `ready` once the gateway said READY.
 */
import OpenAI from 'openai';
import WebSocket from 'ws';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`discord-floor-bot: ${name} is required`);
  return v;
}

const token = env('DISCORD_TOKEN');
const api = `${env('DISCORD_API_URL').replace(/\/+$/, '')}/v10`;
const model = process.env.OPENAI_MODEL ?? 'fake-model';
const openai = new OpenAI({ apiKey: env('OPENAI_API_KEY'), baseURL: env('OPENAI_BASE_URL'), maxRetries: 2 });
const headers = { authorization: `Bot ${token}`, 'content-type': 'application/json' };
const DIRECT_MESSAGES = 1 << 12;
const MESSAGE_CONTENT = 1 << 15;

async function post(channelId: string, content: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await fetch(`${api}/channels/${channelId}/messages`, { method: 'POST', headers, body: JSON.stringify({ content }) });
    if (res.ok) return void (await res.arrayBuffer());
    const body = (await res.json().catch(() => ({}))) as { retry_after?: number; message?: string };
    if (res.status !== 429 || body.retry_after === undefined) throw new Error(`create message failed: ${res.status} ${body.message ?? ''}`);
    await new Promise((r) => setTimeout(r, body.retry_after! * 1000));
  }
}

async function answer(channelId: string, text: string): Promise<void> {
  const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: text }] });
  let reply = '';
  for await (const chunk of stream) reply += chunk.choices[0]?.delta?.content ?? '';
  await post(channelId, reply);
}

const gateway = (await (await fetch(`${api}/gateway/bot`, { headers })).json()) as { url: string };
const ws = new WebSocket(`${gateway.url}?v=10&encoding=json`);
let seq: number | null = null;
let heartbeat: NodeJS.Timeout | undefined;
ws.on('message', (raw) => {
  const p = JSON.parse(String(raw)) as { op: number; d: any; s: number | null; t: string | null };
  if (p.s !== null) seq = p.s;
  if (p.op === 10) {
    heartbeat = setInterval(() => ws.send(JSON.stringify({ op: 1, d: seq })), p.d.heartbeat_interval as number);
    ws.send(JSON.stringify({ op: 2, d: { token, intents: DIRECT_MESSAGES | MESSAGE_CONTENT, properties: { os: 'linux', browser: 'floor', device: 'floor' } } }));
  } else if (p.op === 1) {
    ws.send(JSON.stringify({ op: 1, d: seq }));
  } else if (p.op === 0 && p.t === 'READY') {
    process.stdout.write('ready\n');
  } else if (p.op === 0 && p.t === 'MESSAGE_CREATE' && !p.d.author?.bot && p.d.content) {
    answer(p.d.channel_id as string, p.d.content as string).catch((err: unknown) => process.stderr.write(`discord-floor-bot: ${String(err)}\n`));
  }
});
ws.on('close', (code) => {
  clearInterval(heartbeat);
  process.stderr.write(`discord-floor-bot: gateway closed (${code})\n`);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
