/**
 * `npm run bench -- slack-load [--chats 10] [--turns 10] [--limits on|off] [--rounds N] [--profile DIR] [--env KEY=VALUE,…]`
 *
 * telegram-load's counterpart for Slack, at a smaller scale: DMs talking to the bot at once,
 * closed loop, in real time against the fake Slack (signed Events API deliveries to the bot's
 * HTTP endpoint, the Web API enforcing Slack's tiers: chat.postMessage about 1/s per channel,
 * chat.update 50/min, the streaming methods' workspace limits; 429 + Retry-After); the fake
 * OpenAI server streams 40 chunks 5 ms apart. charbridge runs as its own process through
 * `src/main.ts`; in the same run the floor (./slack-floor-bot.ts: event → SDK stream → one
 * chat.postMessage, retried after a 429) is measured the same way. A reply has landed when the
 * DM's messages, as the fake shows them (streamed or posted), contain the whole reply.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeOpenAI } from '../fakes/openai.js';
import { imMessage, startFakeSlack, type FakeSlack, type SlackLimits } from '../fakes/slack.js';
import { startBotProcess } from './bot-process.js';
import { replyFor } from './telegram-load-driver.js';
import { botEnv, floorAgainstCharbridge, freePort, RUN_AS, loadSettings, measure, until, type LoadWorld, type Phase } from './platform-load.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NO_LIMITS: SlackLimits = Object.fromEntries(
  ['chat.postMessage', 'chat.update', 'chat.startStream', 'chat.appendStream', 'chat.stopStream', 'users.info'].map((m) => [m, null]),
);

/** Chat i is the DM `D0LOAD<i>` with user `U0LOAD<i>`; the fake's calls are read every 2 ms. */
function slackWorld(fake: FakeSlack, eventsUrl: string): LoadWorld {
  const chatOf = (channel: unknown) => (typeof channel === 'string' && channel.startsWith('D0LOAD') ? Number(channel.slice(6)) : undefined);
  return {
    async say(chat, text) {
      const r = await fake.postEvent(eventsUrl, imMessage({ channel: `D0LOAD${chat}`, user: `U0LOAD${chat}`, text }));
      return r.status === 200;
    },
    onCall(listener) {
      let seen = fake.calls.length;
      const timer = setInterval(() => {
        for (; seen < fake.calls.length; seen++) {
          const c = fake.calls[seen]!;
          const chat = chatOf(c.params.channel);
          // Streamed replies grow over several calls: what shows is the DM's messages as they are now.
          const text = chat === undefined ? undefined : fake.channelMessages(`D0LOAD${chat}`).map((m) => m.text).join('\n');
          listener({ chat, method: c.method, text, ok: c.status === 200 && !c.error });
        }
      }, 2);
      return () => clearInterval(timer);
    },
    tooManyRequests: () => fake.tooManyRequests,
  };
}

async function runPhase(name: string, script: string, extraEnv: Record<string, string>, s: { chats: number; turns: number; limits: boolean }, model: FakeOpenAI, work: string, nodeFlags: string[] = []): Promise<Phase> {
  const fake = await startFakeSlack(s.limits ? {} : { limits: NO_LIMITS });
  const cwd = join(work, name);
  mkdirSync(cwd, { recursive: true });
  const port = await freePort();
  const logFile = join(work, `${name}.log`);
  const bot = startBotProcess({
    script,
    cwd,
    logFile,
    nodeFlags,
    env: botEnv(cwd, port, model, { SLACK_BOT_TOKEN: fake.botToken, SLACK_SIGNING_SECRET: fake.signingSecret, SLACK_API_URL: fake.apiUrl, ...extraEnv }),
  });
  try {
    // The floor prints `ready` once listening; charbridge logs "charbridge is running" once its adapter started.
    await until(() => existsSync(logFile) && /^ready$|charbridge is running/m.test(readFileSync(logFile, 'utf8')), bot, 60_000, `${name} to be ready (log: ${logFile})`);
    const world = slackWorld(fake, `http://127.0.0.1:${port}/slack/events`);
    return await measure(bot, world, { chats: s.chats, turns: s.turns, turnTimeoutMs: 30_000 }, replyFor, 3100);
  } finally {
    await bot.stop();
    await fake.close();
  }
}

export async function benchSlackLoad(options: Record<string, string> = {}): Promise<Record<string, string | number>> {
  const s = loadSettings('slack-load', options, { chats: 10, turns: 10 });
  return floorAgainstCharbridge('slack-load', s, 'test/bench/slack-floor-bot.ts', root, `${s.chats} DMs × ${s.turns} turns, closed loop; model streams 40 chunks 5 ms apart; fake Slack tiers ${s.limits ? 'on (chat.postMessage ~1/s per channel, chat.update 50/min, streaming methods per workspace; 429 + Retry-After)' : 'off'}; ${RUN_AS}`, runPhase);
}
