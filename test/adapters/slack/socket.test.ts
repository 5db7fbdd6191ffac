import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appMention, imMessage, nextTs } from '../../fakes/slack.js';
import { seen } from '../../helpers/harness.js';
import { startSlackWorld, texts, type SlackWorld } from './world.js';

/** Socket Mode: the adapter dials out with the app token; events and commands arrive as envelopes. */
describe('Slack adapter in Socket Mode', () => {
  let w: SlackWorld;
  const alice = 'U0ALICE';

  beforeAll(async () => {
    w = await startSlackWorld({ mode: 'socket' });
  });
  afterAll(async () => {
    await w.close();
    expect(w.fake.socketConnections).toBe(0);
  });

  it('connects through apps.connections.open with the app token and mounts no HTTP route', async () => {
    expect(w.adapter.mode).toBe('socket');
    expect(w.adapter.routes()).toEqual([]);
    expect(w.fake.socketConnections).toBe(1);
    expect(w.fake.calls.find((c) => c.method === 'apps.connections.open')?.token).toBe(w.fake.appToken);
    expect((await fetch(w.eventsUrl, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('answers a mention in its thread and keeps the thread\'s memory', async () => {
    const first = appMention({ channel: 'C0SOCK', user: alice, text: `<@${w.fake.botUserId}> I like tea` });
    await w.fake.waitForAck(w.fake.socketEvent(first));
    await w.fake.waitFor(() => w.fake.channelMessages('C0SOCK', first.ts as string).some((m) => m.stream === 'stopped'));
    const second = appMention({ channel: 'C0SOCK', user: alice, text: `<@${w.fake.botUserId}> what do I like?`, thread_ts: first.ts as string });
    w.fake.socketEvent(second);
    // (A reply complete before its first preview slot goes out as one postMessage instead of a stream.)
    const want = ['Echo: u0alice: I like tea', 'Echo: u0alice: what do I like?'];
    await w.fake.waitFor(() => JSON.stringify(texts(w.fake, 'C0SOCK', first.ts as string)) === JSON.stringify(want));
    expect(seen(w.openai)).toContain('assistant: Echo: u0alice: I like tea');
  });

  it('answers DMs, and a redelivered envelope or a double delivery only once', async () => {
    const dm = imMessage({ channel: 'D0SOCK', user: alice, text: 'first' });
    const eventId = 'Ev0SOCKETRETRY';
    w.fake.socketEvent(dm, { eventId });
    w.fake.socketEvent(dm, { eventId, retryNum: 1, retryReason: 'timeout' });
    const ts = nextTs();
    w.fake.socketEvent(imMessage({ channel: 'D0SOCK', user: alice, text: `<@${w.fake.botUserId}> second`, ts }));
    w.fake.socketEvent(appMention({ channel: 'D0SOCK', user: alice, text: `<@${w.fake.botUserId}> second`, ts }));
    // Turns in one conversation run in order, so once the marker is answered the duplicates were dropped.
    w.fake.socketEvent(imMessage({ channel: 'D0SOCK', user: alice, text: 'marker' }));
    await w.fake.waitFor(() => texts(w.fake, 'D0SOCK').includes('Echo: marker'));
    await w.settled();
    expect(texts(w.fake, 'D0SOCK')).toEqual(['Echo: first', 'Echo: second', 'Echo: marker']);
  });

  it('acks the slash command at once and answers through the response_url', async () => {
    const id = w.fake.socketSlashCommand({ command: '/charbridge', text: 'status', user_id: alice, channel_id: 'D0SOCK' });
    expect(await w.fake.waitForAck(id)).toMatchObject({ envelope_id: id });
    await w.fake.waitFor(() => w.fake.responses.length === 1);
    expect(w.fake.responses[0]?.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('Character: Aria') });
    expect(w.fake.tooManyRequests).toBe(0);
  });

  it('keeps receiving after Slack asks it to reconnect', async () => {
    const before = w.fake.socketConnects;
    w.fake.disconnectSocket();
    await w.fake.waitFor(() => w.fake.socketConnects === before + 1 && w.fake.socketConnections === 1, 5000);
    const m = appMention({ channel: 'C0RECON', user: alice, text: `<@${w.fake.botUserId}> still there?` });
    w.fake.socketEvent(m);
    await w.fake.waitFor(() => texts(w.fake, 'C0RECON', m.ts as string).join() === 'Echo: u0alice: still there?');
  });
});
