/**
 * `npm run chaos [-- --seed N --kills 30 --messages 300 --quiet 15 --telegram polling|webhook --cluster --outages N --down-ms N --all-down N --proactive N --proxy [socks] --keep]`:
 * charbridge as its own process on a SQLite file, taking Telegram updates from the fake Bot API
 * (long polling, or webhook deliveries retried until a 2xx as Telegram does), Slack DMs through
 * the Events API (each event POSTed until a 2xx, as Slack retries), Discord DMs over the fake's
 * gateway (sent whether or not a process is connected) and serving async API turns,
 * is killed with
 * SIGKILL `--kills` times while traffic flows, and restarted each time. With `--cluster`, two
 * instances share a PostgreSQL database and a Redis prefix (found on 127.0.0.1 or started, as the
 * tests do): API clients spread over whichever are up, one instance polls Telegram, and each kill
 * takes down one of them while the other keeps serving (`--all-down N`: N of the kills take both
 * down, and both start again together). `--outages N` (with `--cluster`): the run
 * starts a PostgreSQL and a Redis of its own and, besides the kills, crashes one of them N times
 * (Redis killed and started again empty; PostgreSQL stopped as a crash stops it), each down for
 * 0.5–3 s while traffic flows (`--only-crash redis` or `postgres`: always that one; `--down-ms N`:
 * N/2 to N ms instead). `--proxy`: every instance reaches the model, the platforms and the
 * webhooks through a forward proxy that wants a login (test/fakes/proxy.ts, run as its own
 * process by proxy-process.ts), as behind a firewall (`--proxy socks`: a SOCKS5 relay that wants a
 * login, test/fakes/socks.ts); Discord's gateway socket included. Afterwards (one clean start, a
 * quiet period) every promise is checked:
 *   - lost: an accepted message (a Telegram update the bot confirmed by polling past it or by
 *     answering its delivery 2xx, a Slack event answered 2xx, an API turn answered 202, any
 *     Discord DM: Discord asks for no acknowledgement) without its reply; one API turn in twelve
 *     asks the fake model to fail, and its answer is one `error` entry on the feed;
 *   - duplicated: a message answered twice (an API turn's error twice, or beside a reply too), a
 *     Slack preview left unfinished beside its reply, or a Telegram group's preview (a few
 *     Telegram messages go to four groups, answered slowly at length) shown beside its reply;
 *   - a Slack native stream still open (a reply never finished where it began);
 *   - stuck: claims, idempotency keys or outbox rows left in a working state (a key a killed
 *     instance left pending, before its record of the response landed, is sent again, and is
 *     stuck only if that does not get its turn's answer, or charges again);
 *   - credits leaked: credits used minus the replies they paid for (a failed turn costs nothing);
 *   - with `--proactive N`, proactive messages (proactive-traffic.ts): none shown twice, none
 *     recorded delivered but not shown, none left in a working state; and 2N API sessions
 *     reached out to through a webhook (webhook-sessions.ts): every proactive message on the
 *     feed POSTed and answered 2xx, none under two ids, no delivery stuck, credits exact.
 * Exit 1 when a promise is broken. Not part of `npm test` (a run takes minutes).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type RawBuilder } from 'kysely';
import { connect } from '../../src/store/db.js';
import { startFakeOpenAI, contentText } from '../fakes/openai.js';
import { startFakeTelegram } from '../fakes/telegram.js';
import { startFakeSlack } from '../fakes/slack.js';
import { startFakeDiscord } from '../fakes/discord.js';
import { startProxyProcess, type ProxyReport } from './proxy-process.js';
import { freePort, startChildInstance, type ChildInstance } from '../cluster/child-instance.js';
import { root, runnable } from '../bench/bot-process.js';
import { percentile } from '../bench/stats.js';
import { createDatabase, dropDatabase, findOrStartPostgres, postgresBinDir, startPostgres } from '../helpers/pg-server.js';
import { findOrStartRedis, redisServerBin, startRedis, testRedisClient } from '../helpers/redis-server.js';
import { ASKS_TO_FAIL, IN_A_GROUP, repeatApi, seeded, sendApi, sendTelegram, WebhookDelivery, type ApiTurn, type TelegramTurn } from './traffic.js';
import { SlackDelivery, slackFindings, type SlackTurn } from './slack-traffic.js';
import { DiscordTraffic } from './discord-traffic.js';
import { describeOvertakes, overtakesIn, type Answered } from './order.js';
import { describeLaterInContext, laterInContext, tokensIn, type Asked } from './context-order.js';
import { instanceLogs, linesAbout } from './trace-message.js';
import { dumpChatKeys } from './redis-dump.js';
import { ProactiveChats } from './proactive-traffic.js';
import { WebhookSessions } from './webhook-sessions.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const seed = opt('seed', Math.floor(Math.random() * 1e6));
const kills = opt('kills', 30);
const messages = opt('messages', 300);
const quietS = opt('quiet', 15);
const modeAt = args.indexOf('--telegram');
const mode = modeAt >= 0 ? args[modeAt + 1] : 'polling';
if (mode !== 'polling' && mode !== 'webhook') throw new Error(`chaos: --telegram must be polling or webhook (got ${mode})`);
const cluster = args.includes('--cluster');
const outages = opt('outages', 0);
const onlyAt = args.indexOf('--only-crash');
/** Crash only this server (`redis` or `postgres`) rather than either at random. */
const onlyCrash = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
if (onlyCrash !== undefined && onlyCrash !== 'redis' && onlyCrash !== 'postgres') throw new Error(`chaos: --only-crash must be redis or postgres (got ${onlyCrash})`);
/** With `--down-ms N`, each crash keeps its server down N/2 to N ms (a failover, a maintenance), else 0.5–3 s. */
const downMaxMs = opt('down-ms', 3000);
if (downMaxMs < 1000) throw new Error(`chaos: --down-ms must be at least 1000 (got ${downMaxMs})`);
const downMinMs = args.includes('--down-ms') ? Math.floor(downMaxMs / 2) : 500;
/**
 * With `--cluster`: this many of the kills take every instance down at once (spread evenly over
 * the kills); both start again together 0.5–3 s later, as after a host failure or a deploy that
 * restarts everything. Messages sent meanwhile reach no process: Discord's first DMs then only
 * a replayed gateway session finds.
 */
const allDown = opt('all-down', 0);
if (allDown && !cluster) throw new Error('chaos: --all-down needs --cluster (a single instance is down at every kill)');
const allDownAt = new Set(Array.from({ length: allDown }, (_, j) => Math.floor(((j + 1) * kills) / (allDown + 1))));
/** Telegram chats the characters reach out to on their own while instances are killed. */
const proactiveChats = opt('proactive', 0);
if (outages && !cluster) throw new Error('chaos: --outages needs --cluster (a single instance uses no Redis, and its SQLite file cannot go down)');
/**
 * With `--proxy`: every outbound call goes through a forward proxy (HTTP_PROXY); with
 * `--proxy socks`, through a SOCKS5 relay (ALL_PROXY=socks5h://…).
 */
const viaProxy = args.includes('--proxy');
const proxyKind = args[args.indexOf('--proxy') + 1] === 'socks' ? 'socks' : 'http';
/** Keep the run's directory (each instance's log) even when every promise held. */
const keep = args.includes('--keep');
// Behind one public webhook URL a deployment has a load balancer; the fake Bot API delivers to
// the one URL the last setWebhook named, so instances would only take turns being unreachable.
if (cluster && mode === 'webhook') throw new Error('chaos: --cluster runs with --telegram polling (one instance polls; a webhook needs a load balancer in front)');
const ADMIN = 'chaos-admin-key-0123456789';
const rnd = seeded(seed);
// The kills and the crashes draw from streams of their own: drawn from the traffic's, they
// depended on how the loops interleaved, so one seed gave different crashes run to run.
const killRnd = seeded(seed ^ 0x6b696c6c);
const crashRnd = seeded(seed ^ 0x63726173);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

console.log(
  `chaos: seed ${seed}, ${kills} kills, ${messages} messages, Telegram ${mode}${cluster ? ', two instances on PostgreSQL and Redis' : ''}${outages ? `, ${outages} ${onlyCrash === 'redis' ? 'Redis' : onlyCrash === 'postgres' ? 'PostgreSQL' : 'PostgreSQL or Redis'} crashes` : ''}${proactiveChats ? `, ${proactiveChats} chats reached out to` : ''}${allDown ? `, ${allDown} kills of every instance` : ''} (replay: npm run chaos -- --seed ${seed} --kills ${kills} --messages ${messages} --telegram ${mode}${viaProxy ? ` --proxy${proxyKind === 'socks' ? ' socks' : ''}` : ''}${cluster ? ' --cluster' : ''}${outages ? ` --outages ${outages}` : ''}${onlyCrash ? ` --only-crash ${onlyCrash}` : ''}${args.includes('--down-ms') ? ` --down-ms ${downMaxMs}` : ''}${proactiveChats ? ` --proactive ${proactiveChats}` : ''}${allDown ? ` --all-down ${allDown}` : ''})`,
);
const dir = mkdtempSync(join(tmpdir(), 'charbridge-chaos-'));
// Built once and run as `npm start` runs it: no compiling at each start or on a module's first import.
const entry = runnable(join(root, 'src', 'main.ts'));
let failedStarts = 0;
/** Start an instance; during outages one may exit while a server is down, and is started again as a supervisor would. */
const start = async (): Promise<ChildInstance> => {
  for (;;) {
    try {
      return await startChildInstance(env, 180_000, entry);
    } catch (err) {
      if (!outages || ++failedStarts > 50) throw err;
      writeFileSync(join(dir, `failed-start-${failedStarts}.log`), (err as Error).message);
      process.stdout.write(`  an instance exited while starting (a server was down); starting it again\n`);
      await sleep(1000);
    }
  }
};
const shared = cluster ? await sharedServers() : undefined;
const openai = await startFakeOpenAI({ chunkDelayMs: 3 });
// Slack replies run on for 60 more words (~200 ms of stream), so kills land mid-stream too.
const SLACK_TAIL = ' and so the story went on'.repeat(12);
// About 2 s at 60 ms a word: a preview a second in, edited until the reply ends.
const GROUP_TAIL = ' and the group talked on'.repeat(7);
let proactive: ProactiveChats | undefined;
/** Every reply the model was asked for, with the messages its context held. */
const asked: Asked[] = [];
openai.respondWith(({ messages: m }) => {
  const reachOut = proactive?.respond(m);
  if (reachOut) return reachOut;
  const last = contentText(m.filter((x: any) => x.role === 'user').at(-1)?.content ?? '');
  if (last.includes(ASKS_TO_FAIL)) throw new Error('this message asks to fail');
  const token = /(tg|slk|api|dc)\d+/.exec(last)?.[0] ?? 'none';
  asked.push({ token, at: Date.now(), context: m.flatMap((x: any) => tokensIn(contentText(x.content ?? ''))) });
  if (last.includes(IN_A_GROUP)) return { text: `re: ${token}${GROUP_TAIL}`, chunkDelayMs: 60 };
  return `re: ${token}${token.startsWith('slk') ? SLACK_TAIL : ''}`;
});
const telegram = await startFakeTelegram({ limits: { globalPerSecond: 1000, chatMinIntervalMs: 0, chatBurst: 100 } });
proactive = proactiveChats ? new ProactiveChats(telegram, proactiveChats) : undefined;
const hooked = proactiveChats ? new WebhookSessions(2 * proactiveChats) : undefined;
await hooked?.listen();
// Slack's own limits; its users.info tier (100 a minute) is raised, as every restart looks its users up again.
const slack = await startFakeSlack({ limits: { 'users.info': { limit: 100_000, windowMs: 60_000, scope: 'workspace' } } });
const SLACK_DMS = 10;
// Discord's own limits; identifies scaled down (Discord: one per 5 s), as every restart starts a session.
const discord = await startFakeDiscord({ shards: { identifyWindowMs: 200 } });
const DISCORD_DMS = 16;
const proxy = viaProxy ? await startProxyProcess('chaos:proxy-pass-123', proxyKind) : undefined;
let proxyReport: ProxyReport | undefined;
const discordTraffic = new DiscordTraffic(discord, DISCORD_DMS, 6);
const env: Record<string, string> = {
  DATABASE_URL: shared?.databaseUrl ?? join(dir, 'chaos.db'), ADMIN_API_KEY: ADMIN,
  ...(shared ? { REDIS_URL: shared.redisUrl, REDIS_PREFIX: shared.redisPrefix } : {}),
  OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model', MODEL_MAX_RETRIES: '0',
  TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
  SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl, SLACK_SIGNING_SECRET: slack.signingSecret,
  DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.restApi,
  RATE_LIMIT_USER_PER_MIN: '100000', RATE_LIMIT_GROUP_PER_MIN: '100000', RATE_LIMIT_API_KEY_PER_MIN: '100000',
  HEARTBEAT_MS: '500', INSTANCE_DEAD_AFTER_MS: '2000', CHAT_LOCK_TTL_MS: '2000', LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
  ...(proactive ? ProactiveChats.env() : {}),
  ...(hooked ? WebhookSessions.env() : {}),
  ...(proxy ? (proxyKind === 'socks' ? { ALL_PROXY: proxy.url, NO_PROXY: '' } : { HTTP_PROXY: proxy.url.replace('http://', 'http://chaos:proxy-pass-123@'), NO_PROXY: '' }) : {}),
};
// Webhook mode: every restart listens on the same port, the URL Telegram keeps delivering to.
const webhook = mode === 'webhook' ? new WebhookDelivery(telegram) : undefined;
if (webhook) {
  const port = await freePort();
  Object.assign(env, { PORT: String(port), TELEGRAM_WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/webhook`, TELEGRAM_WEBHOOK_SECRET: 'chaos-hook-secret' });
}
// The instances up now; a client picks any of them, as behind a load balancer. While none is
// (one instance, restarting), a client reaches the last one killed: refused, so it retries.
const up: ChildInstance[] = await Promise.all(Array.from({ length: cluster ? 2 : 1 }, () => start()));
let turn = 0;
let lastKilled = up[0]!.url;
const url = () => (up.length ? up[turn++ % up.length]!.url : lastKilled);
let broken = false;
let stopped = 0;
/**
 * SIGKILL, keeping what the process wrote as instance-<n>.log. Returns when the signal was sent:
 * nothing the process would have done after it happened, so "killed N ms after a send" is
 * measured from there, not from its exit and log being read.
 */
const kill = async (instance: ChildInstance): Promise<number> => {
  lastKilled = instance.url;
  const at = Date.now();
  await instance.kill();
  writeFileSync(join(dir, `instance-${++stopped}.log`), instance.output());
  return at;
};
const killTimes: number[] = [];
/** With `--all-down`: from each kill of every instance until both had started again. */
const noneUp: Array<[number, number]> = [];

try {
  const tenants: Array<{ key: string; name: string }> = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${url()}/api/v1/api-keys`, { method: 'POST', headers: { 'x-api-key': ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ name: `tenant${i}`, credits: 100_000 }) });
    tenants.push({ key: ((await res.json()) as { key: string }).key, name: `tenant${i}` });
  }

  proactive?.open(webhook ? (chatId, update) => webhook.post(chatId, update) : undefined);
  await hooked?.open(url, ADMIN, 'aria');
  const tg: Array<TelegramTurn & { accepted?: boolean }> = [];
  const api: Array<Promise<ApiTurn>> = [];
  const slackTurns: SlackTurn[] = [];
  const slackDelivery = new SlackDelivery(slack, url);
  await discordTraffic.open();
  let sent = 0;
  let killed = 0;
  const traffic = (async () => {
    // At least `messages`, and on until the last kill: every kill lands in flowing traffic.
    for (; sent < messages || killed < kills; sent++) {
      const kind = rnd();
      if (kind < 0.45) tg.push(webhook ? webhook.send(rnd, sent, 50) : sendTelegram(telegram, rnd, sent, 50));
      else if (kind < 0.65) slackTurns.push(slackDelivery.send(rnd, sent, SLACK_DMS));
      else if (kind < 0.77) discordTraffic.send(rnd, sent);
      else {
        const key = tenants[Math.floor(rnd() * tenants.length)]!.key;
        // One in twelve fails at the model (by its number, so the seeded draws stay as they were).
        api.push(sendApi(url, key, `api${sent}`, { withKey: rnd() < 0.5, characterId: proactive ? ProactiveChats.quietCharacter : 'aria', fails: sent % 12 === 7 }));
      }
      await sleep(20 + rnd() * 60);
    }
  })();
  const chaos = (async () => {
    for (; killed < kills; killed++) {
      await sleep(500 + killRnd() * 2500);
      if (allDownAt.has(killed)) {
        const from = Date.now();
        for (const victim of up.splice(0)) killTimes.push(await kill(victim));
        const downMs = 500 + Math.floor(killRnd() * 2500);
        process.stdout.write(`  kill ${killed + 1}/${kills} after ${sent} messages: every instance, down ${downMs} ms\n`);
        // Two people write to the bot for the first time now, and again once it is back.
        const newcomers = [discordTraffic.firstDm(), discordTraffic.firstDm()];
        await sleep(downMs);
        up.push(...(await Promise.all([start(), start()])));
        noneUp.push([from, Date.now()]);
        for (const c of newcomers) discordTraffic.firstDm(true, c.user);
        continue;
      }
      // Out of the rotation first: no new request is aimed at a process being killed.
      const victim = up.splice(Math.floor(killRnd() * up.length), 1)[0]!;
      killTimes.push(await kill(victim));
      process.stdout.write(`  kill ${killed + 1}/${kills} after ${sent} messages${cluster ? ` (${up.length} instance still up)` : ''}\n`);
      up.push(await start());
    }
  })();
  const outageTimes: number[] = [];
  /** What each crash was: which server, and for how long. */
  const outageWhat: string[] = [];
  const crashes = (async () => {
    for (let n = 0; n < outages; n++) {
      // Spread over the run: the kills alone take about a minute and a half.
      await sleep(3000 + crashRnd() * 9000);
      const coin = crashRnd();
      const which = onlyCrash ?? (coin < 0.5 ? 'redis' : 'postgres');
      const downMs = downMinMs + Math.floor(crashRnd() * (downMaxMs - downMinMs));
      outageTimes.push(Date.now());
      outageWhat.push(`${which} down ${downMs} ms`);
      process.stdout.write(`  ${which} crash ${n + 1}/${outages}, down ${downMs} ms, after ${sent} messages\n`);
      await shared!.crash(which, downMs);
    }
  })();
  await Promise.all([traffic, chaos, crashes]);
  const apiTurns = await Promise.all(api);
  await hooked?.allOpened();
  await webhook?.drain();
  await slackDelivery.drain();

  // A restart (the last kill lands on the turns still in flight), then quiet until every reply is
  // in (or the quiet period passes without news).
  for (const victim of up.splice(0)) killTimes.push(await kill(victim));
  up.push(await start());
  const expectedTg = new Set(tg.map((t) => t.token));
  const replies = () =>
    telegram.calls.filter((c) => c.method === 'sendMessage' && c.status === 200).length +
    Array.from({ length: SLACK_DMS }, (_, n) => slack.channelMessages(SlackDelivery.channel(n))).flat().length +
    discordTraffic.replies();
  // Claims still open after the quiet period may be waiting out a platform's limit (Slack's tier
  // windows are a minute long, and a restart finds them full): waited for, up to two minutes
  // without news, so a slow answer is not reported as a lost one.
  const { db } = connect(env.DATABASE_URL!);
  const count = async (q: RawBuilder<{ n: number | string }>) => Number((await q.execute(db)).rows[0]?.n ?? 0);
  const open = () => count(sql`select count(*) as n from processed_events where state = 'processing'`);
  let last = -1;
  let longer = 0;
  for (let idle = 0; ; ) {
    await sleep(1000);
    const n = replies();
    idle = n === last ? idle + 1 : 0;
    last = n;
    if (idle < quietS) continue;
    if (idle >= Math.max(quietS, 120) || ((await open()) === 0 && (!hooked || (await hooked.settled(db))))) break;
    longer++;
  }
  if (longer) console.log(`  waited ${longer} s past the quiet period for claims still being answered`);
  if (shared && (await open()) > 0) {
    // Still open: what the chats' lines and windows in Redis hold, while the instance still runs.
    const ids = (await sql<{ platform: string; event_id: string }>`select platform, event_id from processed_events where state = 'processing'`.execute(db)).rows;
    const chats = [...new Set(ids.flatMap((e) => (e.platform === 'slack' ? [e.event_id.split(':')[1]!] : [])))];
    for (const line of await dumpChatKeys(shared.redisUrl, shared.redisPrefix, chats.slice(0, 5))) console.log(line);
  }

  // Telegram: confirmed = below the highest getUpdates offset the bot asked for, or (webhook) answered 2xx.
  const confirmedBelow = Math.max(0, ...telegram.calls.filter((c) => c.method === 'getUpdates').map((c) => Number(c.params.offset ?? 0)));
  const acceptedTg = tg.filter((t) => (webhook ? t.accepted === true : t.updateId < confirmedBelow));
  // When each message's replies were sent, in order.
  const sends = new Map<string, number[]>();
  for (const c of telegram.calls) {
    const token = c.method === 'sendMessage' && c.status === 200 ? /re: (tg\d+)/.exec(String(c.params.text))?.[1] : undefined;
    if (token) sends.set(token, [...(sends.get(token) ?? []), c.at]);
  }
  // A reply counts once Telegram took a sendMessage carrying it, and only while the chat still
  // shows it: a later edit (of another reply's, say) that wrote over it loses it all the same.
  const shownIn = new Map<number, string>();
  const shownNow = (chatId: number) => shownIn.get(chatId) ?? (shownIn.set(chatId, telegram.botMessages(chatId).map((m) => m.text).join('\n')), shownIn.get(chatId)!);
  const overwritten = acceptedTg.filter((t) => sends.has(t.token) && !new RegExp(`re: ${t.token}(?!\\d)`).test(shownNow(Number(t.chatId)))).map((t) => t.token);
  if (overwritten.length) console.log(`  telegram replies sent but no longer shown (written over by an edit): ${overwritten.slice(0, 20).join(', ')}`);
  const tgLost = [...acceptedTg.filter((t) => !sends.has(t.token)).map((t) => t.token), ...overwritten];
  // How long each answered message waited for its first reply, kills and recoveries included.
  const waits = acceptedTg.flatMap((t) => (sends.has(t.token) ? [sends.get(t.token)![0]! - t.at] : []));
  const waitAt = (p: number) => `${((percentile(waits, p) || 0) / 1000).toFixed(1)} s`;
  const tgDup = [...sends].filter(([, at]) => at.length > 1).map(([t]) => t);
  // For each duplicate: when its copies were sent, and the first kill after the first copy.
  for (const token of tgDup) {
    const at = sends.get(token)!;
    // A signal takes a few ms to land: a send the fake received just after it was still the killed process's.
    const kill = Math.min(...killTimes.filter((k) => k >= at[0]! - 50));
    const when = (t: number) => new Date(t).toISOString().slice(17, 23);
    const gap = kill - at[0]!;
    const inGroup = (tg.find((t) => t.token === token)?.chatId ?? 0) < 0;
    console.log(`  duplicate ${token}${inGroup ? ' (in a group: a preview shown beside its reply)' : ''}: sent at ${at.map(when).join(' and ')}${Number.isFinite(kill) ? `; killed ${gap >= 0 ? `${gap} ms after` : `${-gap} ms before`} the first send` : ''}`);
  }
  void expectedTg;
  // Per chat, in the order its messages came: a first reply sent before an earlier message's first
  // reply. Only one chat's line across instances keeps order; a message recovered after a kill is
  // answered when the next process takes it over, so kills can still reorder (counted, not a broken promise).
  const byChat = new Map<string, Array<Answered & { at: number }>>();
  for (const t of [...acceptedTg].sort((a, b) => a.updateId - b.updateId)) {
    const sent = sends.get(t.token)?.[0];
    if (sent !== undefined) byChat.set(String(t.chatId), [...(byChat.get(String(t.chatId)) ?? []), { at: t.at, shown: sent, token: t.token }]);
  }
  const tgOrder = overtakesIn(byChat);
  /** Each message a later one of its chat overtook: how many did, and what happened while it waited. */
  const overtaken = new Map<string, { at: number; sent: number; by: number; chat: string; first: { token: string; at: number; sent: number } }>();
  for (const o of tgOrder) {
    const by = o.by;
    for (const e of o.earlier) {
      const seen = overtaken.get(e.token);
      overtaken.set(e.token, { at: e.at, sent: e.shown, by: (seen?.by ?? 0) + 1, chat: o.chat, first: seen?.first ?? { token: by.token, at: by.at, sent: by.shown } });
    }
  }
  // Overtaken: a reply sent before the reply to an earlier message of its chat; and of those, how
  // many overtook a message that was waiting across a kill (taken over or recovered after it).
  const outOfOrder = tgOrder.length;
  const acrossKill = tgOrder.filter((o) => o.earlier.some((e) => killTimes.some((k) => k >= e.at && k <= e.shown))).length;

  // API: every tenant's feed, read to its end.
  const apiCounts = new Map<string, number>();
  /** The session each token's reply is in. */
  const replySession = new Map<string, string>();
  /** Each session's `error` entries, and the sessions with a reply: each API turn has a session of its own. */
  const failedSessions = new Map<string, number>();
  const repliedSessions = new Set<string>();
  let leaked = 0;
  for (const t of tenants) {
    let cursor = '0';
    for (;;) {
      const r = (await (await fetch(`${url()}/api/v1/updates?cursor=${cursor}&limit=100`, { headers: { 'x-api-key': t.key } })).json()) as { updates: Array<{ kind: string; sessionId: string; message: { content: string } | null }>; cursor: string };
      for (const u of r.updates) {
        const token = /re: (api\d+)/.exec(u.message?.content ?? '')?.[1];
        if (token) apiCounts.set(token, (apiCounts.get(token) ?? 0) + 1);
        if (token && u.kind === 'reply') replySession.set(token, u.sessionId);
        if (u.kind === 'error') failedSessions.set(u.sessionId, (failedSessions.get(u.sessionId) ?? 0) + 1);
        if (u.kind === 'reply') repliedSessions.add(u.sessionId);
      }
      if (r.updates.length < 100) break;
      cursor = r.cursor;
    }
  }
  /** Credits every tenant has been charged so far. */
  const chargedNow = async () => {
    const keys = (await (await fetch(`${url()}/api/v1/api-keys`, { headers: { 'x-api-key': ADMIN } })).json()) as { apiKeys: Array<{ name: string; creditsUsed: number }> };
    return keys.apiKeys.filter((k) => k.name.startsWith('tenant')).reduce((n, k) => n + k.creditsUsed, 0);
  };
  const charged = await chargedNow();
  const replied = [...apiCounts.values()].reduce((a, b) => a + b, 0);
  leaked = charged - replied;
  const acceptedApi = apiTurns.filter((t) => t.accepted);
  // A turn that fails is answered by one `error` entry, and a turn that does not by one reply:
  // an error beside a reply, or twice, is an answer shown twice.
  const errorsOf = (t: ApiTurn) => (t.sessionId ? failedSessions.get(t.sessionId) ?? 0 : 0);
  const apiLost = acceptedApi.filter((t) => (t.fails ? errorsOf(t) === 0 : !apiCounts.get(t.token))).map((t) => t.token);
  const apiDup = [
    ...[...apiCounts].filter(([, n]) => n > 1).map(([t]) => t),
    ...acceptedApi.filter((t) => errorsOf(t) > 1 || (errorsOf(t) > 0 && t.sessionId !== undefined && repliedSessions.has(t.sessionId))).map((t) => `${t.token} (${errorsOf(t)} errors${t.sessionId && repliedSessions.has(t.sessionId) ? ' and a reply' : ''})`),
  ];
  for (const token of apiDup) {
    const t = apiTurns.find((x) => x.token === token.split(' ')[0]);
    console.log(`  duplicate ${token}: ${t?.idempotencyKey ? 'with' : 'without'} an Idempotency-Key; attempts got ${t?.attempts.join(', ') || 'nothing'}`);
  }

  const sl = slackFindings(slack, slackTurns, SLACK_DMS, killTimes, outageTimes.map((at, i) => ({ at, what: `crash ${i + 1} (${outageWhat[i]})` })));
  for (const line of sl.explained) console.log(`  ${line}`);
  const dc = discordTraffic.findings();
  // Each lost Discord message against what happened around it (kills, and with --outages crashes).
  const events = [...killTimes.map((at) => ({ at, what: 'a kill' })), ...outageTimes.map((at, i) => ({ at, what: `crash ${i + 1}` }))].sort((x, y) => x.at - y.at);
  for (const t of dc.lostTurns) {
    const before = events.filter((e) => e.at <= t.at).at(-1);
    const after = events.find((e) => e.at > t.at);
    console.log(`  lost ${t.token} (${t.where}): ${before ? `${t.at - before.at} ms after ${before.what}` : 'before any kill'}${after ? `, ${after.at - t.at} ms before ${after.what}` : ''}`);
  }

  const hook = await hooked?.findings(url, ADMIN, db);
  // A key still pending now was left by a killed instance before its record of the response
  // landed (a database crash held the write). It is stuck only if its request, sent once more,
  // does not get its turn's answer: the 202 naming the same session, with nothing charged again.
  const pendingKeys = (await sql<{ key: string }>`select key from idempotency_keys where state = 'pending'`.execute(db)).rows.map((r) => r.key);
  const keysAnswered: string[] = [];
  // A key whose client gave up before any 202 (180 s of retries: a long outage), left pending by
  // a killed instance before its turn was made (nothing of it on the feed): running anew is its
  // answer. Sent again last, once the others are known to charge nothing again.
  // The hellos that open webhook sessions carry keys too; their replies are on that key's feed.
  if (hooked) for (const [token, session] of await hooked.helloSessions(url)) replySession.set(token, session);
  const turns = [...apiTurns, ...(hooked?.hellos ?? [])];
  const unheard = (key: string) => turns.find((x) => x.idempotencyKey === key && !x.accepted && !replySession.has(x.token) && !apiCounts.get(x.token));
  const chargedBefore = pendingKeys.length ? await chargedNow() : 0;
  for (const key of pendingKeys.filter((k) => !unheard(k))) {
    const t = turns.find((x) => x.idempotencyKey === key);
    const again = t ? await repeatApi(url, t) : undefined;
    // Its client never heard a 202, but its turn was answered: the key names that turn's session.
    const heardOf = t && !t.accepted ? replySession.get(t.token) : t?.sessionId;
    const same = again?.status === 202 && heardOf !== undefined && again.sessionId === heardOf;
    if (same) keysAnswered.push(key);
    else console.log(`  idempotency key ${key} left pending: ${t ? `sent again, got ${again!.status}, session ${again!.sessionId ?? 'none'} (its turn's ${heardOf ?? 'none'})` : 'no request of this run has it'}`);
  }
  if (keysAnswered.length && (await chargedNow()) !== chargedBefore) keysAnswered.splice(0); // sending it again charged again: none counts as answered
  const keysRunAnew: string[] = [];
  for (const key of pendingKeys.filter((k) => unheard(k))) {
    const again = await repeatApi(url, unheard(key)!);
    if (again.status === 202) keysRunAnew.push(key);
    else console.log(`  idempotency key ${key} left pending, its client gave up before any 202: sent again, got ${again.status}`);
  }
  // The turns just started anew finish before the last instance stops (else their claims look stuck).
  for (const until = Date.now() + 30_000; keysRunAnew.length && Date.now() < until && (await open()) > 0; ) await sleep(200);
  for (const instance of up.splice(0)) await kill(instance);
  const stuck = {
    events: await count(sql`select count(*) as n from processed_events where state = 'processing'`),
    idempotency: pendingKeys.length - keysAnswered.length - keysRunAnew.length,
  };
  // Each stuck claim with its owner: a dead one (the sweep should have taken it), a live one, or released.
  if (stuck.events) {
    const when = (t: number | null) => (t === null ? '—' : new Date(Number(t)).toISOString().slice(14, 23));
    const rows = (await sql<{ platform: string; event_id: string; owner: string | null; claimed_at: number; has_payload: boolean | number; started_at: number | null; seen_at: number | null }>`
      select e.platform, e.event_id, e.owner, e.claimed_at, e.payload is not null as has_payload, i.started_at, i.seen_at
      from processed_events e left join instances i on i.id = e.owner where e.state = 'processing' order by e.claimed_at limit 20`.execute(db)).rows;
    for (const r of rows) {
      const owner = r.owner === null ? 'no owner' : r.started_at === null ? `owner ${r.owner.slice(0, 8)} (not registered)` : `owner ${r.owner.slice(0, 8)} (started ${when(r.started_at)}, last seen ${when(r.seen_at)})`;
      console.log(`  stuck ${r.platform}:${r.event_id}: claimed ${when(r.claimed_at)}, ${owner}${r.has_payload ? '' : ', no payload'}`);
    }
  }
  const pro = await proactive?.findings(db);
  await db.destroy();

  const lost = tgLost.length + apiLost.length + sl.lost.length + dc.lost.length;
  const dup = tgDup.length + apiDup.length + sl.duplicated.length + sl.unfinished + dc.duplicated.length;
  const stuckN = stuck.events + stuck.idempotency;
  if (webhook) {
    const polled = telegram.calls.filter((c) => c.method === 'getUpdates' && c.status === 200).length;
    const carried = telegram.calls.filter((c) => c.viaWebhookReply).length;
    console.log(`\ntelegram webhook: ${telegram.calls.filter((c) => c.method === 'setWebhook').length} setWebhook calls, ${carried} calls carried in webhook answers, ${polled} getUpdates`);
    if (polled) throw new Error('chaos: webhook mode, but the bot polled');
  }
  const dcN = discordTraffic.turns.length;
  console.log(`\nsent ${sent + discordTraffic.extra} (telegram ${tg.length} / slack ${slackTurns.length} / discord ${dcN} / api ${apiTurns.length}), accepted ${acceptedTg.length + sl.accepted.length + dcN + acceptedApi.length} (telegram ${acceptedTg.length} / slack ${sl.accepted.length} / discord ${dcN} / api ${acceptedApi.length}), kills ${kills}`);
  // The groups' replies: how many were shown as a preview first (the case a kill must not double).
  const inGroups = telegram.calls.filter((c) => c.status === 200 && Number(c.params.chat_id) < 0);
  const groupMessages = tg.filter((t) => t.chatId < 0).length;
  console.log(`telegram groups: ${groupMessages} messages; ${inGroups.filter((c) => c.method === 'sendMessage').length} sends, ${inGroups.filter((c) => c.method === 'editMessageText').length} edits`);
  console.log(`telegram reply waited p50 ${waitAt(50)}, p99 ${waitAt(99)}, max ${waitAt(100)}; replies sent before an earlier message's of their chat: ${outOfOrder} (${acrossKill} of them overtook a message whose instance was killed), overtaking ${overtaken.size} messages`);
  // What each overtaken message waited through: kills and crashes (ms after it arrived).
  const happenings = [...killTimes.map((at) => ({ at, what: 'kill' })), ...outageTimes.map((at, i) => ({ at, what: `crash ${i + 1} (${outageWhat[i]})` }))];
  for (const [token, o] of [...overtaken].slice(0, 12)) {
    const during = happenings.filter((h) => h.at >= o.at - 50 && h.at <= o.sent).map((h) => `${h.what} +${h.at - o.at} ms`);
    const clockOf = (ms: number) => new Date(ms).toISOString().slice(11, 23);
    console.log(`  overtaken ${token} (chat ${o.chat}, arrived ${clockOf(o.at)}): by ${o.by} later messages; its reply sent ${((o.sent - o.at) / 1000).toFixed(1)} s after it arrived; meanwhile ${during.join(', ') || 'nothing'}`);
    console.log(`    first overtaken by ${o.first.token}, arrived ${clockOf(o.first.at)}, its reply sent ${clockOf(o.first.sent)} (${clockOf(o.sent)} for ${token})`);
  }
  console.log(`lost ${lost}${lost ? ` (${[...tgLost, ...sl.lost, ...dc.lost, ...apiLost].slice(0, 20).join(', ')})` : ''}`);
  const twice = [...tgDup, ...sl.duplicated, ...dc.duplicated, ...apiDup].slice(0, 20).join(', ');
  const previews = sl.unfinished ? `${sl.unfinished} unfinished Slack previews, ${sl.unfinishedAlone} of them without their reply` : '';
  console.log(`duplicated ${dup}${dup ? ` (${[twice, previews].filter(Boolean).join('; ')})` : ''}`);
  console.log(`slack: ${describeOvertakes(sl.order)}; discord: ${describeOvertakes(dc.order)}`);
  if (allDown) {
    const meanwhile = discordTraffic.turns.filter((t) => noneUp.some(([from, to]) => t.at >= from && t.at <= to));
    const firsts = meanwhile.filter((t) => t.where === 'first DM');
    const lostDc = new Set(dc.lostTurns.map((t) => t.token));
    console.log(`discord while every instance was down: ${meanwhile.length} messages sent (${firsts.length} first DMs), ${meanwhile.filter((t) => lostDc.has(t.token)).length} of them lost`);
  }
  const sawLater = laterInContext(asked);
  console.log(`model: ${describeLaterInContext(sawLater)}`);
  // Each one with when the model was first asked about the later message and about it, and what happened in between.
  for (const f of sawLater.slice(0, 8)) {
    const firstAsk = (token: string) => Math.min(...asked.filter((a) => a.token === token).map((a) => a.at ?? 0));
    const own = Math.max(...asked.filter((a) => a.token === f.token).map((a) => a.at ?? 0));
    const later = Math.min(...f.later.map(firstAsk));
    const during = happenings.filter((h) => h.at >= later - 10_000 && h.at <= own).map((h) => `${h.what} ${h.at - own} ms`);
    console.log(`  ${f.token}: asked ${new Date(own).toISOString().slice(11, 23)}, ${((own - later) / 1000).toFixed(1)} s after ${f.later[0]} first was; from 10 s before that: ${during.join(', ') || 'nothing'}`);
  }
  // Discord messages out of order, with what the instances' logs say of each pair: the path each took in.
  const dcPairs = [
    ...sawLater.filter((f) => f.token.startsWith('dc')).map((f) => [f.token, f.later[0]!] as const),
    ...dc.order.map((o) => [o.earlier[0]!.token, o.by.token] as const),
  ].slice(0, 3);
  if (dcPairs.length) {
    const logs = instanceLogs(dir, up);
    const idOf = new Map(discordTraffic.turns.map((t) => [t.token, t.messageId]));
    for (const [earlier, later] of dcPairs) {
      const ids = [earlier, later].map((t) => idOf.get(t) ?? t);
      console.log(`  discord ${earlier} (${ids[0]}) and the later ${later} (${ids[1]}), in the instances' logs:`);
      for (const line of linesAbout(logs, ids)) console.log(`    ${line}`);
    }
  }
  console.log(`slack native streams: ${slack.calls.filter((c) => c.method === 'chat.startStream' && c.status === 200).length} started, ${sl.openStreams} left open`);
  console.log(`slack calls refused with 429: ${Object.entries(sl.tooManyRequests).map(([m, n]) => `${m} ${n}`).join(', ') || 'none'}`);
  console.log(`stuck ${stuckN} (claims ${stuck.events}, idempotency keys ${stuck.idempotency}${keysAnswered.length ? `; ${keysAnswered.length} more keys left pending by a killed instance, each answered from its turn when sent again` : ''}${keysRunAnew.length ? `; ${keysRunAnew.length} more left pending by a killed instance before their turn was made, whose clients gave up before any 202, each run anew when sent again` : ''})`);
  console.log(`credits leaked ${leaked} (charged ${charged}, replies ${replied}; ${acceptedApi.filter((t) => t.fails).length} accepted turns failed at the model, ${acceptedApi.filter((t) => t.fails && errorsOf(t) === 1).length} of them with one error on the feed)`);
  if (pro) {
    const states = Object.entries(pro.states).map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(`proactive: ${pro.shown} shown; lost ${pro.lost.length}${pro.lost.length ? ` (${pro.lost.join(', ')})` : ''}, duplicated ${pro.duplicated.length}${pro.duplicated.length ? ` (${pro.duplicated.join(', ')})` : ''}, stuck ${pro.stuck}; uncertain ${pro.uncertain} (${pro.uncertainShown} of them shown); outbox: ${states}`);
  }
  if (hook) {
    const states = Object.entries(hook.states).map(([k, n]) => `${k} ${n}`).join(', ');
    const list = (xs: string[]) => (xs.length ? ` (${xs.slice(0, 10).join(', ')})` : '');
    console.log(`webhooks: ${hook.onFeed} proactive messages to ${hooked!.accepted} API sessions (${hook.twice.length} reached out to twice within the hour${hook.twice.length ? `: ${hook.twice.slice(0, 5).join(', ')}` : ''}; ${hook.unknownSessions} not opened by an answered hello); lost ${hook.lost.length}${list(hook.lost)}, duplicated ${hook.duplicated.length}${list(hook.duplicated)}, stuck ${hook.stuck}, bad signatures ${hook.badSignatures}, credits leaked ${hook.leaked}; the same id again after a 2xx ${hook.redelivered}; feed to receiver p50 ${hook.lagP50.toFixed(1)} s, max ${hook.lagMax.toFixed(1)} s (to its first POST p50 ${hook.firstPostP50.toFixed(1)} s, max ${hook.firstPostMax.toFixed(1)} s); outbox: ${states}`);
  }
  for (const line of hook?.explained ?? []) console.log(`  ${line}`);
  const hookBroken = hook !== undefined && (hook.twice.length > 0 || hook.lost.length > 0 || hook.duplicated.length > 0 || hook.stuck > 0 || hook.badSignatures > 0 || hook.leaked !== 0);
  const proBroken = (pro !== undefined && (pro.lost.length > 0 || pro.duplicated.length > 0 || pro.stuck > 0)) || hookBroken;
  broken = lost > 0 || dup > 0 || stuckN > 0 || leaked !== 0 || sl.openStreams > 0 || proBroken;
  if (proxy) {
    proxyReport = await proxy.stop();
    const { seen, connections } = proxyReport;
    // What went through the proxy, by the fake it reached (the run's own calls to charbridge do not).
    const names = new Map([[new URL(openai.baseURL).host, 'model'], [new URL(telegram.apiRoot).host, 'telegram'], [new URL(slack.apiUrl).host, 'slack'], [new URL(discord.restApi).host, 'discord']]);
    const byTarget = new Map<string, number>();
    for (const r of seen) {
      const host = r.method === 'CONNECT' || r.method === 'SOCKS' ? r.target : new URL(r.target).host;
      // Discord's REST is forwarded through an HTTP proxy, so a tunnel to it is the gateway's socket.
      const gateway = r.method === 'CONNECT' || r.firstLine?.startsWith('GET /gateway');
      const name = names.get(host) === 'discord' && gateway ? 'discord gateway' : (names.get(host) ?? 'webhooks');
      byTarget.set(name, (byTarget.get(name) ?? 0) + 1);
    }
    const refused = seen.filter((r) => !r.auth).length;
    console.log(`proxy: carried ${seen.length - refused} ${proxyKind === 'socks' ? 'relays' : 'requests'} (${[...byTarget].map(([k, n]) => `${k} ${n}`).join(', ')}), ${connections} connections; ${refused} without the login`);
    if (refused || !['model', 'telegram', 'slack', 'discord', 'discord gateway'].every((k) => byTarget.has(k))) {
      console.log('proxy: a platform or the model never reached it, or a call came without the login');
      broken = true;
    }
  }
  console.log(broken ? `\nBROKEN PROMISES — keeping ${dir}` : '\nevery promise kept');
} finally {
  await Promise.all(up.map((instance) => kill(instance).catch(() => undefined)));
  await openai.close();
  await telegram.close();
  await slack.close();
  await discord.close();
  await hooked?.close();
  if (proxy && !proxyReport) await proxy.stop().catch(() => undefined);
  if (keep) console.log(`keeping ${dir}`);
  if (!broken) {
    if (!keep) rmSync(dir, { recursive: true, force: true });
    // A failure above (an outage run's server still down) must not be hidden by this one.
    await shared?.remove().catch((err: Error) => console.log(`could not remove the run's database and Redis keys: ${err.message}`));
  } else if (shared && !outages) console.log(`keeping the database ${shared.databaseUrl} and Redis keys under ${shared.redisPrefix}`);
  await shared?.stop();
}
process.exit(broken ? 1 : 0);

/** A new PostgreSQL database and a Redis prefix of this run's own, on servers found or started as the tests find them. */
async function sharedServers() {
  const pg = outages ? await ownPostgres() : await findOrStartPostgres();
  if ('missing' in pg) throw new Error(`chaos --cluster needs PostgreSQL: ${pg.missing}`);
  const redis = outages ? await ownRedis() : await findOrStartRedis();
  if ('missing' in redis) throw new Error(`chaos --cluster needs Redis: ${redis.missing}`);
  const name = `charbridge_chaos_${process.pid}_${seed}`;
  const redisPrefix = `chaos:${process.pid}:${seed}:`;
  return {
    databaseUrl: await createDatabase(pg.adminUrl, name),
    redisUrl: redis.url,
    redisPrefix,
    async remove() {
      await dropDatabase(pg.adminUrl, name);
      const client = testRedisClient(redis.url);
      await client.connect();
      const keys = await client.keys(`${redisPrefix}*`);
      if (keys.length) await client.del(...keys);
      client.disconnect();
    },
    /** Crash one of the servers this run started (`--outages`). */
    crash: (which: 'redis' | 'postgres', downMs: number) => (which === 'redis' ? redis : pg).crash!(downMs),
    /** Stop the servers this run started (none when they were already running). */
    stop: () => Promise.all([pg.stop(), redis.stop()]),
  };
}

/** `--outages` crashes the servers, so the run starts its own rather than using shared ones. */
async function ownPostgres() {
  const bin = postgresBinDir();
  if (!bin) return { missing: 'no initdb to start a PostgreSQL of its own (apt-get install postgresql)' };
  return startPostgres(bin, { crashSafe: true });
}

async function ownRedis() {
  const bin = redisServerBin();
  if (!bin) return { missing: 'no redis-server to start a Redis of its own (apt-get install redis-server)' };
  return startRedis(bin);
}
