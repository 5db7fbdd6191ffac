import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createPlatformAdapters } from '../../../src/platforms.js';
import { startRuntime } from '../../../src/runtime.js';
import { appMention, botMessage, channelMessage, imMessage, nextTs, startFakeSlack } from '../../fakes/slack.js';
import { postSigned } from '../../fakes/slack-events.js';
import { startFakeOpenAI } from '../../fakes/openai.js';
import { seen, testLogger } from '../../helpers/harness.js';
import { startSlackWorld, texts, type SlackWorld } from './world.js';

/**
 * HTTP events: Slack → our fastify server (/slack/events, signature checked) → Bolt → adapter
 * → real engine → fake model → replies through the fake Web API.
 */
describe('Slack adapter over HTTP events', () => {
  let w: SlackWorld;
  const alice = 'U0ALICE';

  beforeAll(async () => {
    w = await startSlackWorld({ mode: 'http' });
  });
  afterAll(async () => {
    await w.close();
  });

  it('answers a mention in a channel in the mention\'s thread, streamed natively', async () => {
    const mention = appMention({ channel: 'C0MENTION', user: alice, text: `<@${w.fake.botUserId}> hello there` });
    const res = await w.fake.postEvent(w.eventsUrl, mention);
    expect(res.status).toBe(200);
    await w.settled();
    const replies = w.fake.channelMessages('C0MENTION', mention.ts as string);
    expect(replies).toEqual([expect.objectContaining({ text: 'Echo: u0alice: hello there', thread_ts: mention.ts, stream: 'stopped' })]);
    // The model saw the text without our mention; the stream named its recipient as Slack requires in channels.
    expect(seen(w.openai).at(-1)).toBe('user: u0alice: hello there');
    const start = w.fake.calls.find((c) => c.method === 'chat.startStream' && c.params.channel === 'C0MENTION');
    expect(start?.params).toMatchObject({ thread_ts: mention.ts, recipient_user_id: alice, recipient_team_id: w.fake.teamId });
  });

  it('keeps a thread as one conversation: the second mention sees the first exchange', async () => {
    const first = appMention({ channel: 'C0THREAD', user: alice, text: `<@${w.fake.botUserId}> my name is Alice` });
    await w.fake.postEvent(w.eventsUrl, first);
    await w.settled();
    const second = appMention({ channel: 'C0THREAD', user: alice, text: `<@${w.fake.botUserId}> what is my name?`, thread_ts: first.ts as string });
    await w.fake.postEvent(w.eventsUrl, second);
    await w.settled();
    expect(texts(w.fake, 'C0THREAD', first.ts as string)).toEqual(['Echo: u0alice: my name is Alice', 'Echo: u0alice: what is my name?']);
    expect(seen(w.openai)).toEqual(expect.arrayContaining(['user: u0alice: my name is Alice', 'assistant: Echo: u0alice: my name is Alice', 'user: u0alice: what is my name?']));
    // A new top-level mention is a new thread, and a new conversation.
    const other = appMention({ channel: 'C0THREAD', user: alice, text: `<@${w.fake.botUserId}> fresh start` });
    await w.fake.postEvent(w.eventsUrl, other);
    await w.settled();
    expect(seen(w.openai).filter((l) => l.startsWith('user:') || l.startsWith('assistant:'))).toEqual(['user: u0alice: fresh start']);
  });

  it('answers a DM at the top level, through postMessage + update (no thread to stream into)', async () => {
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0ALICE', user: alice, text: 'hi in private' }));
    await w.settled();
    expect(w.fake.channelMessages('D0ALICE')).toEqual([expect.objectContaining({ text: 'Echo: hi in private' })]);
    expect(w.fake.channelMessages('D0ALICE')[0]?.thread_ts).toBeUndefined();
  });

  it('ignores its own messages, other bots and channel chatter without a mention', async () => {
    const before = w.openai.requests.length;
    await w.fake.postEvent(w.eventsUrl, botMessage({ channel: 'D0ALICE', text: 'my own echo', bot_id: w.fake.botId, user: w.fake.botUserId }));
    await w.fake.postEvent(w.eventsUrl, botMessage({ channel: 'D0ALICE', text: 'another bot', bot_id: 'B0OTHER', user: 'U0OTHERBOT' }));
    await w.fake.postEvent(w.eventsUrl, botMessage({ channel: 'C0QUIET', text: 'legacy bot', bot_id: 'B0LEGACY', legacy: true }));
    await w.fake.postEvent(w.eventsUrl, channelMessage({ channel: 'C0QUIET', user: alice, text: 'just chatting' }));
    await w.settled();
    expect(w.openai.requests.length).toBe(before);
    expect(w.fake.channelMessages('C0QUIET')).toEqual([]);
  });

  it('answers a retried event once (x-slack-retry-num)', async () => {
    const mention = appMention({ channel: 'C0RETRY', user: alice, text: `<@${w.fake.botUserId}> once please` });
    const first = await w.fake.postEvent(w.eventsUrl, mention);
    const retry = await w.fake.postEvent(w.eventsUrl, mention, { eventId: first.eventId, retryNum: 1, retryReason: 'http_timeout' });
    const late = await w.fake.postEvent(w.eventsUrl, mention, { eventId: first.eventId, retryNum: 2 });
    expect([first.status, retry.status, late.status]).toEqual([200, 200, 200]);
    await w.settled();
    expect(texts(w.fake, 'C0RETRY', mention.ts as string)).toEqual(['Echo: u0alice: once please']);
    expect(w.openai.requests.filter((r) => JSON.stringify(r.body.messages).includes('once please'))).toHaveLength(1);
  });

  it('answers a message delivered as both `message` and `app_mention` once', async () => {
    const ts = nextTs();
    const text = `<@${w.fake.botUserId}> both ways`;
    await w.fake.postEvent(w.eventsUrl, channelMessage({ channel: 'C0BOTH', user: alice, text, ts }));
    await w.fake.postEvent(w.eventsUrl, appMention({ channel: 'C0BOTH', user: alice, text, ts }));
    // In a DM (or group DM) both event types are answered; the shared ts still makes them one message.
    const dmTs = nextTs();
    await w.fake.postEvent(w.eventsUrl, appMention({ channel: 'D0BOTH', user: alice, text: `<@${w.fake.botUserId}> dm both`, ts: dmTs }));
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0BOTH', user: alice, text: `<@${w.fake.botUserId}> dm both`, ts: dmTs }));
    await w.settled();
    expect(texts(w.fake, 'C0BOTH')).toEqual(['Echo: u0alice: both ways']);
    expect(texts(w.fake, 'D0BOTH')).toEqual(['Echo: dm both']);
  });

  it('refuses bad signatures and stale timestamps with 401, and answers url_verification', async () => {
    const before = w.openai.requests.length;
    const bad = await w.fake.postEvent(w.eventsUrl, appMention({ channel: 'C0SIG', user: alice, text: 'forged' }), { badSignature: true });
    const stale = await w.fake.postEvent(w.eventsUrl, appMention({ channel: 'C0SIG', user: alice, text: 'old' }), {
      timestamp: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    expect([bad.status, stale.status]).toEqual([401, 401]);
    const unsigned = await fetch(w.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"event_callback"}' });
    expect(unsigned.status).toBe(401);
    await w.settled();
    expect(w.openai.requests.length).toBe(before);
    expect(await w.fake.postUrlVerification(w.eventsUrl, 'challenge-42')).toEqual({ status: 200, body: { challenge: 'challenge-42' } });
  });

  it('refuses a signed event callback whose `event` is not an object with 400, answering nothing', async () => {
    const before = w.openai.requests.length;
    for (const event of [null, 'text', 42, ['message'], undefined]) {
      const body = JSON.stringify({ type: 'event_callback', team_id: 'T0TEAM', event_id: `Ev${Math.random()}`, ...(event === undefined ? {} : { event }) });
      const res = await postSigned(w.eventsUrl, body, 'application/json', w.fake.signingSecret);
      expect(res.status, JSON.stringify(event)).toBe(400);
    }
    await w.settled();
    expect(w.openai.requests.length).toBe(before);
  });

  it('refuses with 400 a signed body shaped so that Bolt would throw reading it (null where it expects an object)', async () => {
    const before = w.openai.requests.length;
    const event = { type: 'app_mention', user: alice, channel: 'C0SHAPE', text: `<@${w.fake.botUserId}> hi`, ts: '1.000300' };
    const bodies = [
      { type: 'event_callback', event: { ...event, channel: null } },
      { type: 'event_callback', event: { ...event, item: null } },
      { type: 'event_callback', event: { ...event, item: 'C0SHAPE' } },
      { type: 'event_callback', event, authorizations: [null] },
      { type: 'event_callback', event: { ...event, user: null } },
      { type: 'event_callback', event: { ...event, user: 7 } },
      { type: 'event_callback', event: { ...event, subteam: null } },
      { type: 'block_actions', actions: [], user: null },
      { type: 'view_submission', view: null, user: { id: alice } },
      { type: 'block_suggestion', channel: null },
      { type: 'block_actions', actions: [], channel: null },
      { type: 'message_action', channel: null },
    ];
    for (const b of bodies) {
      const body = JSON.stringify({ team_id: 'T0TEAM', event_id: `Ev${Math.random()}`, ...b });
      const res = await postSigned(w.eventsUrl, body, 'application/json', w.fake.signingSecret);
      expect(res.status, body).toBe(400);
    }
    await w.settled();
    expect(w.openai.requests.length).toBe(before);
    expect(texts(w.fake, 'C0SHAPE')).toEqual([]);
  });

  it('refuses a signed body whose workspace id names an Object member with 400 (Bolt keys its clients by it)', async () => {
    const before = w.openai.requests.length;
    const event = { type: 'app_mention', user: alice, channel: 'C0PROTO', text: `<@${w.fake.botUserId}> hi`, ts: '1.000200' };
    const bodies = [
      { team_id: '__proto__' },
      { team_id: 'constructor' },
      { team_id: 'T0TEAM', enterprise_id: 'toString' },
      { team_id: 'T0TEAM', authorizations: [{ team_id: '__proto__', enterprise_id: null }] },
    ];
    for (const extra of bodies) {
      const body = JSON.stringify({ type: 'event_callback', event_id: `Ev${Math.random()}`, event, ...extra });
      const res = await postSigned(w.eventsUrl, body, 'application/json', w.fake.signingSecret);
      expect(res.status, JSON.stringify(extra)).toBe(400);
    }
    await w.settled();
    expect(w.openai.requests.length).toBe(before);
    expect(texts(w.fake, 'C0PROTO')).toEqual([]);
  });

  it('answers commands written in a mention inside the thread (`@bot /clear`)', async () => {
    const first = appMention({ channel: 'C0CLEAR', user: alice, text: `<@${w.fake.botUserId}> remember this` });
    await w.fake.postEvent(w.eventsUrl, first);
    await w.settled();
    const thread = first.ts as string;
    await w.fake.postEvent(w.eventsUrl, appMention({ channel: 'C0CLEAR', user: alice, text: `<@${w.fake.botUserId}> /clear`, thread_ts: thread }));
    await w.settled();
    await w.fake.postEvent(w.eventsUrl, appMention({ channel: 'C0CLEAR', user: alice, text: `<@${w.fake.botUserId}> and now?`, thread_ts: thread }));
    await w.settled();
    expect(texts(w.fake, 'C0CLEAR', thread)).toEqual(['Echo: u0alice: remember this', 'Context cleared. I no longer see our earlier messages.', 'Echo: u0alice: and now?']);
    expect(seen(w.openai).filter((l) => l.startsWith('user:'))).toEqual(['user: u0alice: and now?']);
  });

  it('formats replies as mrkdwn and splits long ones at Slack-friendly sizes', async () => {
    w.openai.respondWith('**Bold** & <tag> see [docs](https://example.com/a?b=1&c=2)');
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0FORMAT', user: alice, text: 'format' }));
    await w.settled();
    expect(texts(w.fake, 'D0FORMAT')).toEqual(['*Bold* &amp; &lt;tag&gt; see <https://example.com/a?b=1&c=2|docs>']);

    const para = (n: number) => `Paragraph ${n}. ${'word '.repeat(150).trim()}.`;
    const long = Array.from({ length: 12 }, (_, i) => para(i + 1)).join('\n\n'); // ~9,100 characters
    w.openai.respondWith(long);
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0LONG', user: alice, text: 'long one' }));
    await w.settled();
    const parts = texts(w.fake, 'D0LONG');
    expect(parts.length).toBe(3);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(3900);
    expect(parts.join('\n\n')).toBe(long);
    expect(parts[1]?.startsWith('Paragraph')).toBe(true); // cut at a paragraph boundary
    w.openai.respondWith((r) => `Echo: ${String(r.messages.at(-1)?.content ?? '')}`);
  });

  it('delivers proactive messages to a DM through adapter.deliver', async () => {
    await w.adapter.deliver({ key: { platform: 'slack', chatId: 'D0PROACT' }, text: 'Thinking of you **today**.', characterName: 'Aria' });
    expect(texts(w.fake, 'D0PROACT')).toEqual(['Thinking of you *today*.']);
    const thread = nextTs();
    await w.adapter.deliver({ key: { platform: 'slack', chatId: 'C0PROACT', threadId: thread }, text: 'Back in the thread', characterName: 'Aria' });
    expect(texts(w.fake, 'C0PROACT', thread)).toEqual(['Back in the thread']);
  });
});

describe('Slack through createPlatformAdapters (as main.ts starts it)', () => {
  it('is built from config.slack with production tuning and answers over /slack/events', async () => {
    const fake = await startFakeSlack();
    const openai = await startFakeOpenAI();
    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', OPENAI_BASE_URL: openai.baseURL, OPENAI_API_KEY: openai.apiKey,
      SLACK_BOT_TOKEN: fake.botToken, SLACK_SIGNING_SECRET: fake.signingSecret, SLACK_API_URL: fake.origin, // a bare origin works too
    });
    const rt = await startRuntime(config, { log: testLogger(), adapters: createPlatformAdapters });
    try {
      expect(rt.adapters.map((a) => a.platform)).toEqual(['slack']);
      const res = await fake.postEvent(`${rt.url}/slack/events`, imMessage({ channel: 'D0MAIN', user: 'U0ALICE', text: 'hi from main' }));
      expect(res.status).toBe(200);
      await fake.waitFor(() => fake.channelMessages('D0MAIN').some((m) => m.text === 'Echo: hi from main'));
    } finally {
      await rt.shutdown('test');
      await fake.close();
      await openai.close();
    }
  });
});
