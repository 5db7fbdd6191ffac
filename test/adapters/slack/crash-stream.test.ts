/**
 * A native stream cut off by SIGKILL. charbridge runs as a process of its own on a SQLite file,
 * answering a mention in a thread while the fake model writes slowly; it is killed once Slack
 * shows the stream open with the first words, then started again on the same file. The reply
 * must end as one message in the thread — the stream, stopped and edited up to the whole text —
 * not the dead stream beside a second copy (Slack shows no metadata on a stream until it stops,
 * so only the note the reply made when it opened the stream can find it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { appMention, startFakeSlack, type FakeSlack } from '../../fakes/slack.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai.js';
import { startChildInstance, type ChildInstance } from '../../cluster/child-instance.js';
import { waitFor } from '../telegram/world.js';

const STORY = Array.from({ length: 40 }, (_, i) => `word${i + 1}`).join(' ');

let slack: FakeSlack | undefined;
let openai: FakeOpenAI | undefined;
let child: ChildInstance | undefined;
let dir: string | undefined;
afterEach(async () => {
  await child?.kill();
  await slack?.close();
  await openai?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = slack = openai = dir = undefined;
});

it('a stream the crash left open is finished in place by the restarted process, once', async () => {
  slack = await startFakeSlack();
  openai = await startFakeOpenAI({ chunkDelayMs: 400 }); // the first words show at once, the rest take seconds
  openai.respondWith(STORY);
  dir = mkdtempSync(join(tmpdir(), 'charbridge-crash-stream-'));
  const env = {
    DATABASE_URL: join(dir, 'charbridge.db'),
    OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model', MODEL_MAX_RETRIES: '0',
    SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl, SLACK_SIGNING_SECRET: slack.signingSecret,
  };
  child = await startChildInstance(env);
  const mention = appMention({ channel: 'C0CRASH', user: 'U0ALICE', text: `<@${slack.botUserId}> tell me a story` });
  const thread = mention.ts as string;
  expect((await slack.postEvent(`${child.url}/slack/events`, mention)).status).toBe(200);
  const shown = () => slack!.channelMessages('C0CRASH', thread);
  // Killed once the stream has grown: its note is written before anything is appended. (Killed
  // between Slack opening it and the note landing, the lookup finds it: see recovery.test.ts.)
  await waitFor(() => shown().some((m) => m.stream === 'open' && m.appends >= 1), 15_000, () => `a stream to open and grow\n${child!.output().slice(-2000)}`);
  await child.kill();
  const [cut] = shown();
  expect(cut!.text.length).toBeLessThan(STORY.length);

  openai.setChunkDelay(0);
  child = await startChildInstance(env);
  await waitFor(() => shown().some((m) => m.text === STORY), 15_000, () => `the reply to be finished\n${JSON.stringify(shown())}\n${child!.output().slice(-2000)}`);
  expect(shown()).toEqual([expect.objectContaining({ ts: cut!.ts, text: STORY, stream: 'stopped' })]);
  expect(slack.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(0);
}, 90_000);
