/**
 * `npm run fuzz [-- --seed N --requests 3000 --postgres]`: thousands of seeded requests — bodies built from
 * every operation in /openapi.json and then bent, hostile path segments, every auth variant,
 * odd content types and Idempotency-Keys — plus signed and unsigned Telegram and Slack webhook
 * deliveries, against charbridge as its own process (logging everything). A 5xx, a reset, a
 * request that hangs, a crash, a shutdown that does not finish or a key, token or secret in its
 * log is a finding. Exit 1 on any finding. `--postgres` runs charbridge on a fresh PostgreSQL
 * database (found on 127.0.0.1 or started, as the tests do) instead of in-memory SQLite: text
 * PostgreSQL refuses (a NUL character) or numbers outside its column types only fail there.
 */
import { request } from 'node:http';
import { startFakeOpenAI } from '../fakes/openai.js';
import { startFakeTelegram } from '../fakes/telegram.js';
import { startFakeSlack } from '../fakes/slack.js';
import { postSigned } from '../fakes/slack-events.js';
import { startChildInstance } from '../cluster/child-instance.js';
import { createDatabase, dropDatabase, findOrStartPostgres } from '../helpers/pg-server.js';
import { seeded } from './traffic.js';
import { bodyText, fromSchema, hostileSegment, mutate, type Rnd } from './fuzz-values.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const seed = opt('seed', Math.floor(Math.random() * 1e6));
const total = opt('requests', 3000);
const rnd: Rnd = seeded(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const ADMIN = 'fuzz-admin-key-0123456789';
const TG_SECRET = 'fuzz-telegram-secret-0123';
const onPostgres = args.includes('--postgres');
console.log(`fuzz: seed ${seed}, ${total} requests${onPostgres ? ' on PostgreSQL' : ''} (replay: npm run fuzz -- --seed ${seed} --requests ${total}${onPostgres ? ' --postgres' : ''})`);
const database = onPostgres ? await freshPostgres() : undefined;

const openai = await startFakeOpenAI();
const telegram = await startFakeTelegram();
const slack = await startFakeSlack();
const child = await startChildInstance({
  DATABASE_URL: database?.url ?? ':memory:', ADMIN_API_KEY: ADMIN, OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model',
  MODEL_MAX_RETRIES: '0', RATE_LIMIT_API_KEY_PER_MIN: '100000', RATE_LIMIT_USER_PER_MIN: '100000', SSRF_ALLOW_HOSTS: '',
  TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot, TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/telegram/webhook', TELEGRAM_WEBHOOK_SECRET: TG_SECRET,
  SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: slack.signingSecret, SLACK_API_URL: slack.apiUrl,
  // Everything logged, so the check below sees every line a secret could slip into.
  LOG_LEVEL: 'debug',
});

interface Sent { status: number; body: string }
/** Whole responses for the set-up calls; the fuzz keeps only the start of each. */
let keepWhole = true;
function send(method: string, path: string, headers: Record<string, string | string[]>, body?: string | Buffer): Promise<Sent> {
  const u = new URL(child.url);
  return new Promise((resolve) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, timeout: 40_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: keepWhole ? Buffer.concat(chunks).toString('utf8') : Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
      res.on('error', () => resolve({ status: -1, body: 'response error' }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ status: -2, body: 'hung (40 s)' });
    });
    req.on('error', (err) => resolve({ status: -1, body: `${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    // Node frames a DELETE/OPTIONS body neither by length nor by chunks: say its length, or the
    // server reads the body as the next request (a client bug, not one of ours).
    if (body !== undefined) {
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) req.setHeader('content-length', Buffer.byteLength(body));
      req.end(body);
    }
    else req.end();
  });
}
const json = async (method: string, path: string, key: string, body?: unknown) => JSON.parse((await send(method, path, { 'x-api-key': key, 'content-type': 'application/json' }, body ? JSON.stringify(body) : undefined)).body || 'null');

const findings = new Map<string, { count: number; example: string }>();
/** Never to appear in charbridge's log, whatever the requests carried (checked after it has shut down). */
const secrets: Record<string, string> = { 'admin key': ADMIN, 'Telegram webhook secret': TG_SECRET, 'Telegram bot token': telegram.token, 'Slack bot token': slack.botToken, 'Slack signing secret': slack.signingSecret, 'model API key': openai.apiKey };
let broken = false;
try {
  // Something valid to aim at.
  const tenant = await json('POST', '/api/v1/api-keys', ADMIN, { name: 'fuzz-tenant', credits: 1_000_000 });
  const key = tenant.key as string;
  const character = await json('POST', '/api/v1/characters', key, { name: 'Fuzzy', personality: 'A patient test subject.', speakingStyle: 'Plain and short.' });
  const chat = await json('POST', '/api/v1/chat', key, { characterId: 'aria', message: 'hello' });
  const ids = [character?.id, chat?.sessionId, tenant.id, 'aria'].filter(Boolean) as string[];
  const spec = await json('GET', '/openapi.json', key);
  const ops: Array<{ method: string; path: string; schema: any }> = [];
  for (const [path, item] of Object.entries<any>(spec.paths ?? {})) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      ops.push({ method: method.toUpperCase(), path, schema: op.requestBody?.content?.['application/json']?.schema });
    }
  }
  keepWhole = false;
  console.log(`  ${ops.length} operations in /openapi.json, plus the Telegram and Slack webhooks`);
  const auth = () => pick<Record<string, string | string[]>>([
    { 'x-api-key': key }, { 'x-api-key': ADMIN }, {}, { authorization: `Bearer ${key}` }, { 'x-api-key': 'cb_wrong_0123456789' },
    { 'x-api-key': [key, ADMIN] }, { 'x-api-key': 'k'.repeat(5000) }, { authorization: 'Bearer' },
  ]);
  const contentType = () => pick(['application/json', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']);

  for (let i = 0; i < total; i++) {
    let method: string;
    let path: string;
    let res: Sent;
    const r = rnd();
    if (r < 0.05) {
      method = 'POST';
      path = '/telegram/webhook';
      const update = mutate(rnd, telegram.buildUserMessage({ chat: { id: 9000 + (i % 7), type: 'private' }, from: { id: 9000 + (i % 7) }, text: `fuzz ${i}` }));
      res = await send(method, path, { 'content-type': 'application/json', ...(rnd() < 0.7 ? { 'x-telegram-bot-api-secret-token': TG_SECRET } : {}) }, bodyText(rnd, update));
    } else if (r < 0.1) {
      method = 'POST';
      path = '/slack/events';
      const event = mutate(rnd, { type: 'event_callback', event_id: `Ev${i}`, team_id: 'T1', event: { type: 'app_mention', user: 'U1', channel: 'C1', text: `<@U0> fuzz ${i}`, ts: `${i}.0001` } });
      const raw = bodyText(rnd, event);
      const signed = await postSigned(`${child.url}${path}`, raw, 'application/json', rnd() < 0.7 ? slack.signingSecret : 'wrong-secret').catch((err: unknown) => ({ status: -1, body: String(err) }));
      res = { status: signed.status, body: String(signed.body).slice(0, 300) };
      if (res.status < 0 || res.status >= 500) res.body += ` (body starts ${JSON.stringify(raw.slice(0, 200))})`;
    } else {
      const op = pick(ops);
      method = rnd() < 0.05 ? pick(['PUT', 'HEAD', 'OPTIONS', 'PATCH']) : op.method;
      path = op.path.replace(/\{(\w+)\}|:(\w+)/g, () => (rnd() < 0.8 ? pick(ids) : hostileSegment(rnd)));
      if (rnd() < 0.15) path += pick(['?cursor=abc', '?wait=1e9', '?limit=-1', '?from=2026-13-45&groupBy=nope', '?format=exe', '?wait=0.1&cursor=99999999999999999999']);
      const value = mutate(rnd, op.schema ? fromSchema(rnd, op.schema) : undefined);
      const body = method === 'GET' || method === 'HEAD' ? undefined : bodyText(rnd, value);
      const headers: Record<string, string | string[]> = { ...auth(), 'content-type': contentType() };
      if (rnd() < 0.2) headers['idempotency-key'] = pick(['', 'k', 'x'.repeat(256), 'y'.repeat(6000), `idem-${i % 5}`]);
      if (rnd() < 0.1) headers.accept = 'text/event-stream';
      res = await send(method, path, headers, body);
      if (res.status < 0 || res.status >= 500) res.body += ` (body ${body?.length ?? 0} bytes, ${String(headers['content-type'])}, body starts ${JSON.stringify((body ?? '').slice(0, 60))})`;
    }
    if (res.status >= 500 || res.status < 0) {
      const kind = `${res.status} ${method} ${path.replace(/\/[0-9a-f-]{8,}|\/cb_\w+/g, '/:id').slice(0, 80)}`;
      const f = findings.get(kind);
      if (f) f.count++;
      else findings.set(kind, { count: 1, example: `#${i}: ${res.body}` });
    }
    if ((i + 1) % 500 === 0) process.stdout.write(`  ${i + 1}/${total} sent, ${[...findings.values()].reduce((n, f) => n + f.count, 0)} findings\n`);
  }
  const alive = await send('GET', '/health', {});
  secrets['tenant key'] = key;
  if (alive.status !== 200) findings.set('the process no longer answers /health', { count: 1, example: alive.body });
} finally {
  const stopped = await child.terminate(30_000);
  if (!stopped) findings.set('graceful shutdown (SIGTERM) did not finish within 30 s', { count: 1, example: child.output().slice(-500) });
  await Promise.allSettled([openai.close(), telegram.close(), slack.close()]);
  await database?.remove();
}
const log = child.output();
for (const [name, secret] of Object.entries(secrets)) {
  const at = log.indexOf(secret);
  if (at >= 0) findings.set(`the ${name} appears in charbridge's log`, { count: 1, example: log.slice(Math.max(0, at - 300), at + 100) });
}
for (const [kind, f] of findings) console.log(`FINDING ${kind} ×${f.count}\n  ${f.example}`);
// Errors charbridge logged are not findings by themselves (a listener's failure can still be
// answered 200), but each one is a place where bad input got further than it should have.
const logged = errorLines(log);
if (logged.size) console.log(`\ncharbridge logged errors:\n${[...logged].map(([line, n]) => `  ×${n} ${line}`).join('\n')}`);
broken = findings.size > 0;
console.log(broken ? `\n${findings.size} kinds of findings` : `\n${total} requests: 0 server errors, 0 hangs, 0 crashes, clean shutdown`);
process.exit(broken ? 1 : 0);

async function freshPostgres(): Promise<{ url: string; remove(): Promise<void> }> {
  const pg = await findOrStartPostgres();
  if ('missing' in pg) throw new Error(`fuzz --postgres needs PostgreSQL: ${pg.missing}`);
  const name = `charbridge_fuzz_${process.pid}_${seed}`;
  const url = await createDatabase(pg.adminUrl, name);
  return {
    url,
    async remove() {
      await dropDatabase(pg.adminUrl, name);
      await pg.stop();
    },
  };
}

/** Distinct error-level lines of charbridge's JSON log: message and error, with a count. */
function errorLines(output: string): Map<string, number> {
  const seen = new Map<string, number>();
  for (const line of output.split('\n')) {
    let entry: { level?: number; msg?: string; err?: { message?: string } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if ((entry.level ?? 0) < 50) continue;
    const what = `${entry.msg ?? ''}: ${entry.err?.message ?? ''}`.slice(0, 300);
    seen.set(what, (seen.get(what) ?? 0) + 1);
  }
  return seen;
}
