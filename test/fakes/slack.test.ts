import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, SocketModeReceiver, webApi } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appMention, botMessage, channelMessage, imMessage, nextTs, startFakeSlack, type FakeSlack } from './slack.js';

/** Short retries so a broken fake fails fast instead of the WebClient's default ~30 minutes. */
const fastRetry = { retries: 3, minTimeout: 0, maxTimeout: 10 };

/** Raw form POST, to see exactly what Slack's wire answers look like (status, headers, body). */
async function rawCall(fake: FakeSlack, method: string, form: Record<string, string>, token?: string) {
  const res = await fetch(`${fake.apiUrl}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: new URLSearchParams(form),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

describe('fake Slack Web API', () => {
  it('checks tokens like Slack: not_authed, invalid_auth, token types, token in the form', async () => {
    const fake = await startFakeSlack();
    try {
      expect((await rawCall(fake, 'auth.test', {})).body).toEqual({ ok: false, error: 'not_authed' });
      expect((await rawCall(fake, 'auth.test', {}, 'xoxb-wrong')).body).toMatchObject({ error: 'invalid_auth' });
      expect((await rawCall(fake, 'auth.test', { token: fake.botToken })).body).toMatchObject({
        ok: true, user_id: fake.botUserId, bot_id: fake.botId, team_id: fake.teamId,
      });
      const appTokenPost = await rawCall(fake, 'chat.postMessage', { channel: 'C1', text: 'x' }, fake.appToken);
      expect(appTokenPost.body).toMatchObject({ ok: false, error: 'not_allowed_token_type' });
      expect((await rawCall(fake, 'apps.connections.open', {}, fake.botToken)).body).toMatchObject({ error: 'not_allowed_token_type' });
      expect((await rawCall(fake, 'chat.nonsense', {}, fake.botToken)).body).toMatchObject({ error: 'unknown_method' });
      // JSON bodies (Bearer token) are accepted too, nested values arrive as objects.
      const json = await fetch(`${fake.apiUrl}chat.postMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${fake.botToken}` },
        body: JSON.stringify({ channel: 'C1', text: 'json', thread_ts: '1.000001', blocks: [{ type: 'divider' }] }),
      });
      expect(await json.json()).toMatchObject({ ok: true, channel: 'C1', message: { text: 'json', thread_ts: '1.000001' } });
      expect(fake.channelMessages('C1', '1.000001')).toEqual([expect.objectContaining({ text: 'json', updates: 0 })]);
      expect(fake.calls.at(-1)).toMatchObject({ method: 'chat.postMessage', token: fake.botToken, status: 200, params: { blocks: [{ type: 'divider' }] } });
    } finally {
      await fake.close();
    }
  });

  it('keeps message metadata and returns it from conversations.history and .replies only when asked', async () => {
    const fake = await startFakeSlack();
    const client = new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl, retryConfig: fastRetry, logLevel: webApi.LogLevel.ERROR });
    try {
      const metadata = { event_type: 'charbridge_reply', event_payload: { key: 'k1', part: 0 } };
      const top = await client.chat.postMessage({ channel: 'C1', text: 'top', metadata });
      await client.chat.postMessage({ channel: 'C1', text: 'later' });
      await client.chat.postMessage({ channel: 'C1', text: 'in thread', thread_ts: '1.000001', metadata });
      const plain = await client.conversations.history({ channel: 'C1' });
      expect(plain.messages?.map((m) => [m.text, m.metadata])).toEqual([['later', undefined], ['top', undefined]]); // newest first, no replies
      const withMeta = await client.conversations.history({ channel: 'C1', include_all_metadata: true, limit: 1, oldest: '0' });
      expect(withMeta).toMatchObject({ messages: [{ text: 'later' }], has_more: true });
      const all = await client.conversations.history({ channel: 'C1', include_all_metadata: true });
      expect(all.messages?.find((m) => m.ts === top.ts)?.metadata).toEqual(metadata);
      const replies = await client.conversations.replies({ channel: 'C1', ts: '1.000001', include_all_metadata: true });
      expect(replies.messages?.map((m) => [m.text, m.metadata])).toEqual([['in thread', metadata]]);
      expect((await rawCall(fake, 'chat.postMessage', { channel: 'C2', text: 'x', metadata: '{"event_payload":{}}' }, fake.botToken)).body).toMatchObject({ ok: false, error: 'invalid_metadata_format' });
      expect(fake.channelMessages('C2')).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('answers Slack error codes through the real WebClient', async () => {
    const fake = await startFakeSlack();
    const client = new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl, retryConfig: fastRetry, logLevel: webApi.LogLevel.ERROR });
    try {
      await expect(client.chat.postMessage({ channel: 'C1', text: 'x'.repeat(40_001) })).rejects.toMatchObject({ data: { error: 'msg_too_long' } });
      await expect(client.chat.postMessage({ channel: '#general', text: 'x' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
      await expect(client.chat.update({ channel: 'C1', ts: '1.000001', text: 'x' })).rejects.toMatchObject({ data: { error: 'message_not_found' } });
      fake.failNext('chat.postMessage', 'internal_error');
      await expect(client.chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toMatchObject({ data: { error: 'internal_error' } });
      expect(fake.channelMessages('C1')).toEqual([]);

      fake.setUser('U0ADMIN', { is_admin: true, name: 'alice', tz: 'Europe/Berlin' });
      const admin = await client.users.info({ user: 'U0ADMIN' });
      expect(admin.user).toMatchObject({ id: 'U0ADMIN', name: 'alice', is_admin: true, is_owner: false, is_bot: false, tz: 'Europe/Berlin' });
      expect((await client.users.info({ user: fake.botUserId })).user?.is_bot).toBe(true);
      await expect(client.users.info({ user: 'nobody' })).rejects.toMatchObject({ data: { error: 'user_not_found' } });

      const dm = await client.conversations.open({ users: 'U0ADMIN' });
      expect(dm.channel?.id).toBe('D0ADMIN');
      expect((await client.conversations.info({ channel: 'D0ADMIN' })).channel).toMatchObject({ is_im: true, user: 'U0ADMIN' });
      expect((await client.conversations.info({ channel: 'G123' })).channel).toMatchObject({ is_private: true, is_channel: false });
      const eph = await client.chat.postEphemeral({ channel: 'C1', user: 'U0ADMIN', text: 'only you' });
      expect(fake.ephemerals).toEqual([{ channel: 'C1', user: 'U0ADMIN', text: 'only you', message_ts: eph.message_ts }]);

      const post = await client.chat.postMessage({ channel: 'C1', text: 'hi', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'hi' } }] });
      expect(post.message).toMatchObject({ type: 'message', text: 'hi', user: fake.botUserId, bot_id: fake.botId, ts: post.ts });
      expect(fake.calls.at(-1)?.params.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: 'hi' } }]);
    } finally {
      await fake.close();
    }
  });

  it('rate limits on an injected clock: 429 + whole-second Retry-After, counted', async () => {
    let t = 1_700_000_000_000;
    const fake = await startFakeSlack({ now: () => t, limits: { 'users.info': { limit: 2, windowMs: 60_000, scope: 'workspace' } } });
    const client = new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl, rejectRateLimitedCalls: true, retryConfig: fastRetry, logLevel: webApi.LogLevel.ERROR });
    try {
      await client.users.info({ user: 'U1' });
      t += 10_000;
      await client.users.info({ user: 'U2' });
      t += 500;
      const limited = await rawCall(fake, 'users.info', { user: 'U3' }, fake.botToken);
      expect(limited).toEqual({ status: 429, retryAfter: '50', body: { ok: false, error: 'ratelimited' } });
      await expect(client.users.info({ user: 'U3' })).rejects.toMatchObject({ code: webApi.ErrorCode.RateLimitedError, retryAfter: 50 });
      t += 49_600; // the first call leaves the window
      await expect(client.users.info({ user: 'U3' })).resolves.toMatchObject({ ok: true });
      expect(fake.tooManyRequests).toBe(2);
      expect(fake.calls.filter((c) => c.status === 429).map((c) => c.method)).toEqual(['users.info', 'users.info']);
    } finally {
      await fake.close();
    }
  });

  it('answers unknown_method for the streaming trio when streaming is unsupported', async () => {
    const fake = await startFakeSlack({ streamingSupported: false });
    const client = new webApi.WebClient(fake.botToken, { slackApiUrl: fake.apiUrl, retryConfig: fastRetry, logLevel: webApi.LogLevel.ERROR });
    try {
      await expect(client.chat.startStream({ channel: 'D1', thread_ts: '1.000001', markdown_text: 'x' })).rejects.toMatchObject({ data: { error: 'unknown_method' } });
      await expect(client.chat.appendStream({ channel: 'D1', ts: '1.000001', markdown_text: 'x' })).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    } finally {
      await fake.close();
    }
  });
});

describe('Bolt over HTTP (HTTPReceiver on port 0) against the fake', () => {
  let fake: FakeSlack;
  let app: App;
  let eventsUrl: string;
  const mentions: Array<{ text: string; retryNum: number | undefined; retryReason: string | undefined }> = [];
  const messages: Array<{ text?: string; user?: string; bot_id?: string }> = [];

  beforeAll(async () => {
    // Scaled-down limit: one post per channel per second, so a second post 429s.
    fake = await startFakeSlack({ limits: { 'chat.postMessage': { limit: 1, windowMs: 1_000, scope: 'channel' } } });
    // No botId/botUserId: Bolt calls auth.test in the constructor, so the fake must already listen.
    app = new App({
      token: fake.botToken,
      signingSecret: fake.signingSecret,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: fastRetry },
    });
    app.event('app_mention', async ({ event, say, sayStream, context }) => {
      mentions.push({ text: event.text, retryNum: context.retryNum, retryReason: context.retryReason });
      if (event.text.includes('stream')) {
        const streamer = sayStream();
        await streamer.append({ markdown_text: 'Hello ' });
        await streamer.stop({ markdown_text: 'world' });
      } else if (event.text.includes('reply')) {
        await say({ text: `echo: ${event.text}`, thread_ts: event.thread_ts ?? event.ts });
      }
    });
    app.message(async ({ message }) => {
      messages.push(message as { text?: string; user?: string; bot_id?: string });
    });
    app.command('/charbridge', async ({ command, ack, respond }) => {
      await ack();
      await respond({ response_type: 'ephemeral', text: `pong: ${command.text}` });
    });
    const server = (await app.start(0)) as Server;
    eventsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });

  afterAll(async () => {
    await app.stop();
    await fake.close();
  });

  it('delivers a signed app_mention; say() with thread_ts lands in the thread', async () => {
    const mention = appMention({ channel: 'C0HTTP1', user: 'U0ALICE', text: `<@${fake.botUserId}> reply please` });
    const res = await fake.postEvent(eventsUrl, mention);
    expect(res.status).toBe(200);
    await fake.waitFor(() => fake.channelMessages('C0HTTP1', mention.ts as string).length === 1);
    expect(fake.channelMessages('C0HTTP1', mention.ts as string)[0]).toMatchObject({ text: `echo: <@${fake.botUserId}> reply please`, thread_ts: mention.ts });
    expect(fake.calls.some((c) => c.method === 'auth.test')).toBe(true);
  });

  it('passes Slack redeliveries through with context.retryNum (dedupe is the app\'s job)', async () => {
    const mention = appMention({ channel: 'C0HTTP2', user: 'U0ALICE', text: 'retry me' });
    const first = await fake.postEvent(eventsUrl, mention);
    const again = await fake.postEvent(eventsUrl, mention, { eventId: first.eventId, retryNum: 1, retryReason: 'http_timeout' });
    expect([first.status, again.status]).toEqual([200, 200]);
    await fake.waitFor(() => mentions.filter((m) => m.text === 'retry me').length === 2);
    expect(mentions.filter((m) => m.text === 'retry me').map((m) => [m.retryNum, m.retryReason])).toEqual([
      [undefined, undefined],
      [1, 'http_timeout'],
    ]);
  });

  it('rejects bad signatures and stale timestamps with 401, answers url_verification', async () => {
    const before = mentions.length;
    const bad = await fake.postEvent(eventsUrl, appMention({ channel: 'C0HTTP3', user: 'U0ALICE', text: 'forged' }), { badSignature: true });
    const stale = await fake.postEvent(eventsUrl, appMention({ channel: 'C0HTTP3', user: 'U0ALICE', text: 'old' }), {
      timestamp: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    expect([bad.status, stale.status]).toEqual([401, 401]);
    expect(mentions.length).toBe(before);
    const verify = await fake.postUrlVerification(eventsUrl, 'abc123');
    expect(verify).toEqual({ status: 200, body: { challenge: 'abc123' } });
  });

  it('drops the bot\'s own messages (ignoreSelf) but not other bots\' or users\'', async () => {
    await fake.postEvent(eventsUrl, botMessage({ channel: 'C0HTTP4', text: 'my own echo', bot_id: fake.botId, user: fake.botUserId }));
    await fake.postEvent(eventsUrl, botMessage({ channel: 'C0HTTP4', text: 'legacy bot', bot_id: 'B0OTHER', legacy: true }));
    await fake.postEvent(eventsUrl, imMessage({ channel: 'D0ALICE', user: 'U0ALICE', text: 'dm hello' }));
    await fake.postEvent(eventsUrl, channelMessage({ channel: 'C0HTTP4', user: 'U0BOB', text: 'room hello' }));
    await fake.waitFor(() => ['legacy bot', 'dm hello', 'room hello'].every((t) => messages.some((m) => m.text === t)));
    expect(messages.some((m) => m.text === 'my own echo')).toBe(false);
  });

  it('routes a slash command to app.command; respond() posts to the response_url', async () => {
    const res = await fake.postSlashCommand(eventsUrl, { command: '/charbridge', text: 'ping', user_id: 'U0ALICE', channel_id: 'C0HTTP5' });
    expect(res.status).toBe(200);
    await fake.waitFor(() => fake.responses.length === 1);
    expect(fake.responses[0]).toEqual({ url: res.responseUrl, body: { response_type: 'ephemeral', text: 'pong: ping' } });
  });

  it('edits with client.chat.update', async () => {
    const posted = await app.client.chat.postMessage({ channel: 'C0HTTP6', text: 'draft' });
    await app.client.chat.update({ channel: 'C0HTTP6', ts: posted.ts as string, text: 'final' });
    expect(fake.channelMessages('C0HTTP6')).toEqual([expect.objectContaining({ ts: posted.ts, text: 'final', updates: 1 })]);
  });

  it('has the WebClient wait out a 429 (Retry-After) and deliver the message', async () => {
    const started = Date.now();
    await Promise.all([
      app.client.chat.postMessage({ channel: 'C0HTTP7', text: 'one' }),
      app.client.chat.postMessage({ channel: 'C0HTTP7', text: 'two' }),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.channelMessages('C0HTTP7').map((m) => m.text).sort()).toEqual(['one', 'two']);
    expect(fake.tooManyRequests).toBeGreaterThanOrEqual(1);
    expect(fake.calls.some((c) => c.method === 'chat.postMessage' && c.params.channel === 'C0HTTP7' && c.status === 429)).toBe(true);
  });

  it('streams with client.chat.startStream / appendStream / stopStream (typed methods)', async () => {
    const parent = nextTs();
    await expect(app.client.chat.startStream({ channel: 'C0HTTP8', thread_ts: parent, markdown_text: 'x' })).rejects.toMatchObject({
      data: { error: 'missing_recipient_user_id' },
    });
    const start = await app.client.chat.startStream({
      channel: 'C0HTTP8', thread_ts: parent, markdown_text: 'Hel', recipient_team_id: fake.teamId, recipient_user_id: 'U0ALICE',
    });
    expect(start).toMatchObject({ ok: true, channel: 'C0HTTP8' });
    const ts = start.ts as string;
    await app.client.chat.appendStream({ channel: 'C0HTTP8', ts, markdown_text: 'lo' });
    expect(fake.channelMessages('C0HTTP8', parent)).toEqual([expect.objectContaining({ text: 'Hello', stream: 'open' })]);
    await expect(app.client.chat.update({ channel: 'C0HTTP8', ts, text: 'edit' })).rejects.toMatchObject({ data: { error: 'streaming_state_conflict' } });
    const stop = await app.client.chat.stopStream({ channel: 'C0HTTP8', ts, markdown_text: '!' });
    expect(stop).toMatchObject({ ok: true, channel: 'C0HTTP8', ts, message: { text: 'Hello!', thread_ts: parent, bot_id: fake.botId } });
    expect(fake.channelMessages('C0HTTP8', parent)).toEqual([expect.objectContaining({ text: 'Hello!', stream: 'stopped', appends: 2 })]);
    await expect(app.client.chat.appendStream({ channel: 'C0HTTP8', ts, markdown_text: 'more' })).rejects.toMatchObject({
      data: { error: 'message_not_in_streaming_state' },
    });
  });

  it('streams through Bolt\'s sayStream() (ChatStreamer sends chunks and the recipient)', async () => {
    const mention = appMention({ channel: 'C0HTTP9', user: 'U0ALICE', text: 'stream please' });
    await fake.postEvent(eventsUrl, mention);
    await fake.waitFor(() => fake.channelMessages('C0HTTP9', mention.ts as string).some((m) => m.stream === 'stopped'));
    expect(fake.channelMessages('C0HTTP9', mention.ts as string)).toEqual([expect.objectContaining({ text: 'Hello world' })]);
    const start = fake.calls.find((c) => c.method === 'chat.startStream' && c.params.channel === 'C0HTTP9');
    expect(start?.params).toMatchObject({ thread_ts: mention.ts, recipient_team_id: fake.teamId, recipient_user_id: 'U0ALICE' });
    const stop = fake.calls.find((c) => c.method === 'chat.stopStream' && c.params.channel === 'C0HTTP9');
    expect(stop?.params.chunks).toEqual([{ type: 'markdown_text', text: 'Hello world' }]);
  });
});

/** Timers alive in this process: a leaked Socket Mode close-handshake timer (30 s) would show up here. */
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('Bolt in Socket Mode against the fake', () => {
  it('connects with the app token, acks and handles events and slash commands, and stops without leaks', async () => {
    const baseline = activeTimers();
    const fake = await startFakeSlack();
    // Plain socketMode:true: App passes clientOptions (slackApiUrl) on to the SocketModeClient's WebClient.
    const app = new App({
      token: fake.botToken,
      appToken: fake.appToken,
      socketMode: true,
      botId: fake.botId,
      botUserId: fake.botUserId,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: fastRetry },
    });
    const retries: Array<number | undefined> = [];
    app.event('app_mention', async ({ event, say, context }) => {
      retries.push(context.retryNum);
      await say({ text: `socket echo: ${event.text}`, thread_ts: event.ts });
    });
    app.command('/charbridge', async ({ command, ack, respond }) => {
      await ack({ text: `working on ${command.text}` });
      await respond({ text: 'done' });
    });
    await app.start();
    expect(fake.socketConnections).toBe(1);
    expect(fake.calls.find((c) => c.method === 'apps.connections.open')?.token).toBe(fake.appToken);

    const mention = appMention({ channel: 'C0SOCK1', user: 'U0ALICE', text: 'hi over ws' });
    const envelopeId = fake.socketEvent(mention);
    expect(await fake.waitForAck(envelopeId)).toEqual({ envelope_id: envelopeId, payload: {} });
    await fake.waitFor(() => fake.channelMessages('C0SOCK1', mention.ts as string).length === 1);
    expect(fake.channelMessages('C0SOCK1', mention.ts as string)[0]?.text).toBe('socket echo: hi over ws');

    fake.socketEvent(appMention({ channel: 'C0SOCK2', user: 'U0ALICE', text: 'again' }), { retryNum: 2, retryReason: 'timeout' });
    await fake.waitFor(() => retries.length === 2);
    expect(retries).toEqual([0, 2]);

    const cmdId = fake.socketSlashCommand({ command: '/charbridge', text: 'x', user_id: 'U0ALICE', channel_id: 'C0SOCK3' });
    expect(await fake.waitForAck(cmdId)).toEqual({ envelope_id: cmdId, payload: { text: 'working on x' } });
    await fake.waitFor(() => fake.responses.length === 1);
    expect(fake.responses[0]?.body).toEqual({ text: 'done' });

    await app.stop();
    await fake.close();
    expect(fake.socketConnections).toBe(0);
    await fake.waitFor(() => activeTimers() <= baseline, 1_000);
  });

  it('reconnects through apps.connections.open after a disconnect message', async () => {
    const fake = await startFakeSlack();
    // A custom receiver only to shorten the reconnect delay (clientPingTimeout × failures, 5 s by default).
    const receiver = new SocketModeReceiver({
      appToken: fake.appToken,
      clientPingTimeout: 600,
      logLevel: LogLevel.ERROR,
      installerOptions: { clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: fastRetry } },
    });
    const app = new App({
      token: fake.botToken,
      receiver,
      botId: fake.botId,
      botUserId: fake.botUserId,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: fastRetry },
    });
    const seen: string[] = [];
    app.event('app_mention', async ({ event }) => {
      seen.push(event.text);
    });
    await app.start();
    fake.disconnectSocket();
    await fake.waitFor(() => fake.socketConnects === 2 && fake.socketConnections === 1, 5_000);
    expect(fake.calls.filter((c) => c.method === 'apps.connections.open')).toHaveLength(2);

    const id = fake.socketEvent(appMention({ channel: 'C0SOCK4', user: 'U0ALICE', text: 'after reconnect' }));
    await fake.waitForAck(id);
    await fake.waitFor(() => seen.includes('after reconnect'));
    await app.stop();
    await fake.close();
  });
});
