/**
 * `npm run bench -- discord-load [--chats 20] [--turns 10] [--limits on|off] [--rounds N] [--profile DIR] [--env KEY=VALUE,…]`
 *
 * telegram-load's counterpart for Discord, at a smaller scale: many DMs talking to the bot at
 * once, closed loop, in real time against the fake Discord (gateway + REST) enforcing Discord's
 * per-route buckets (5 posts / 5 s per channel) and the bot-wide 50 requests/s, answering 429
 * with `retry_after`; the fake OpenAI server streams 40 chunks 5 ms apart. charbridge runs as its
 * own process through `src/main.ts`, configured by environment only; in the same run the floor
 * (./discord-floor-bot.ts: raw gateway → SDK stream → one POST, retried after a 429) is measured
 * the same way. `--limits off` lifts the fake's limits (charbridge still paces itself).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeOpenAI } from '../fakes/openai.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordLimits, type RestCall } from '../fakes/discord.js';
import { startBotProcess } from './bot-process.js';
import { replyFor } from './telegram-load-driver.js';
import { botEnv, floorAgainstCharbridge, freePort, RUN_AS, loadSettings, measure, until, type LoadWorld, type Phase, type SeenCall } from './platform-load.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOKEN = 'bench-discord-load-token';
const UNLIMITED = { limit: 1_000_000_000, windowMs: 1000 };
const NO_LIMITS: Partial<FakeDiscordLimits> = { messagePost: UNLIMITED, messageEdit: UNLIMITED, typing: UNLIMITED, webhook: UNLIMITED, default: UNLIMITED, global: UNLIMITED };

/** What a REST call was, in words a reader of the report knows. */
function routeName(c: RestCall): string {
  if (/^\/channels\/\d+\/messages$/.test(c.path)) return c.method === 'POST' ? 'create message' : `${c.method} messages`;
  if (/^\/channels\/\d+\/messages\/\d+$/.test(c.path)) return c.method === 'PATCH' ? 'edit message' : `${c.method} message`;
  if (/^\/channels\/\d+\/typing$/.test(c.path)) return 'typing';
  return `${c.method} ${c.path.replace(/\d{5,}/g, ':id')}`;
}

/** The load's DMs over the fake: chat i is user `6…i`, its DM channel learned from its first message. */
function discordWorld(fake: FakeDiscord): LoadWorld {
  const chatOf = new Map<string, number>();
  return {
    async say(chat, text) {
      const m = fake.userMessage({ author: { id: `6${String(chat).padStart(17, '0')}`, username: `user${chat}` }, content: text, guildId: null });
      chatOf.set(m.channel_id as string, chat);
      return true;
    },
    onCall(listener) {
      let seen = fake.calls.length;
      let stopped = false;
      // The fake wakes its waiters after every REST response: that is the subscription.
      void fake
        .waitFor(() => {
          // A call is recorded on arrival (status 0) and answered later: report calls in order, once answered.
          for (; seen < fake.calls.length && fake.calls[seen]!.status !== 0; seen++) {
            const c = fake.calls[seen]!;
            const channel = /^\/channels\/(\d+)\//.exec(c.path)?.[1];
            const call: SeenCall = {
              chat: channel === undefined ? undefined : chatOf.get(channel),
              method: routeName(c),
              text: typeof c.body?.content === 'string' ? (c.body.content as string) : undefined,
              ok: c.status >= 200 && c.status < 300,
            };
            listener(call);
          }
          return stopped;
        }, 24 * 3600_000)
        .catch(() => undefined);
      return () => {
        stopped = true; // the waiter ends at the fake's next change
      };
    },
    tooManyRequests: () => fake.tooManyRequests,
  };
}

async function runPhase(name: string, script: string, extraEnv: Record<string, string>, s: { chats: number; turns: number; limits: boolean }, model: FakeOpenAI, work: string, nodeFlags: string[] = []): Promise<Phase> {
  const fake = await startFakeDiscord({ token: TOKEN, ...(s.limits ? {} : { limits: NO_LIMITS }) });
  const cwd = join(work, name);
  mkdirSync(cwd, { recursive: true });
  const port = await freePort();
  const bot = startBotProcess({
    script,
    cwd,
    logFile: join(work, `${name}.log`),
    nodeFlags,
    env: botEnv(cwd, port, model, { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.restApi, ...extraEnv }),
  });
  try {
    // The floor prints `ready` on READY; charbridge logs "charbridge is running" once its adapter started.
    const logFile = join(work, `${name}.log`);
    const ready = () => existsSync(logFile) && /^ready$|charbridge is running/m.test(readFileSync(logFile, 'utf8'));
    await until(ready, bot, 60_000, `${name} to be ready (log: ${logFile})`);
    return await measure(bot, discordWorld(fake), { chats: s.chats, turns: s.turns, turnTimeoutMs: 30_000 }, replyFor, 5100);
  } finally {
    await bot.stop();
    await fake.close();
  }
}

export async function benchDiscordLoad(options: Record<string, string> = {}): Promise<Record<string, string | number>> {
  const s = loadSettings('discord-load', options, { chats: 20, turns: 10 });
  return floorAgainstCharbridge('discord-load', s, 'test/bench/discord-floor-bot.ts', root, `${s.chats} DMs × ${s.turns} turns, closed loop; model streams 40 chunks 5 ms apart; fake Discord limits ${s.limits ? 'on (5 posts / 5 s per channel, 50 requests/s per bot, 429 + retry_after)' : 'off'}; ${RUN_AS}`, runPhase);
}
