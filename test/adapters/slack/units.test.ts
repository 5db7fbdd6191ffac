import { describe, expect, it } from 'vitest';
import { parseSubcommand, slashify } from '../../../adapters/slack/commands.js';
import { classify, cleanText, messageEventId, UserDirectory } from '../../../adapters/slack/inbound.js';
import { commandMenu, createCommandRegistry } from '../../../src/engine/commands/index.js';
import { proactiveCommand } from '../../../src/scheduler/index.js';
import { fromSlackText, toMrkdwn } from '../../../adapters/slack/mrkdwn.js';
import { TierGate } from '../../../adapters/slack/outbound.js';
import type { SharedTally } from '../../../src/core/outbound-window.js';
import { parseSlackBody, verifySlackSignature } from '../../../adapters/slack/receiver.js';
import { normalizeApiUrl } from '../../../adapters/slack/transport.js';
import { decodeKey, encodeKey } from '../../../src/core/conversation-key.js';
import { slackSignature } from '../../fakes/slack.js';

const me = { botUserId: 'U0BOT', botId: 'B0BOT', teamId: 'T1' };
/** The engine's menu as the runtime builds it (the scheduler adds `proactive`). */
const menu = commandMenu(createCommandRegistry([proactiveCommand(undefined)]));
const ev = (over: Record<string, unknown>) => ({ type: 'message', channel: 'C1', user: 'U1', text: 'hi', ts: '1.000100', ...over });

describe('mrkdwn', () => {
  it('renders the model\'s Markdown as Slack mrkdwn, escaping &, <, >', () => {
    expect(toMrkdwn('**bold**, *it*, ~~gone~~ and `a<b`')).toBe('*bold*, _it_, ~gone~ and `a&lt;b`');
    expect(toMrkdwn('[docs](https://x.dev/a?b=1&c=2) & <script>')).toBe('<https://x.dev/a?b=1&c=2|docs> &amp; &lt;script&gt;');
    expect(toMrkdwn('# Title\n- one\n> quoted\n```ts\nif (a < b) {}\n```')).toBe('*Title*\n• one\n> quoted\n```\nif (a &lt; b) {}\n```');
  });

  it('keeps user and channel references live but never lets a character ping @channel', () => {
    expect(toMrkdwn('hi <@U123> in <#C9|general> <!channel>')).toBe('hi <@U123> in <#C9|general> &lt;!channel&gt;');
  });

  it('turns Slack text into plain text for the model', () => {
    expect(fromSlackText('see <https://x.dev|docs> &amp; <#C1|general> <!here> <@U2> <mailto:a@b.c|a@b.c>')).toBe('see docs (https://x.dev) & #general @here @U2 a@b.c');
    expect(cleanText('<@U0BOT> hello <@U0BOT|bot>, &lt;3', 'U0BOT')).toBe('hello <3');
    expect(cleanText('<@U0BOT>: /clear', 'U0BOT')).toBe('/clear');
  });
});

describe('inbound', () => {
  it('answers DMs and mentions, ignores bots, ourselves, edits and plain channel messages', () => {
    expect(classify(ev({ channel: 'D1', channel_type: 'im' }), me)).toEqual({ chatType: 'dm' });
    expect(classify(ev({ type: 'app_mention' }), me)).toEqual({ chatType: 'thread', threadId: '1.000100' });
    expect(classify(ev({ type: 'app_mention', thread_ts: '0.5' }), me)).toEqual({ chatType: 'thread', threadId: '0.5' });
    expect(classify(ev({ channel_type: 'channel' }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', bot_id: 'B2' }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', subtype: 'bot_message', user: undefined }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', user: 'U0BOT' }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', subtype: 'message_changed' }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', subtype: 'file_share' }), me)).toEqual({ chatType: 'dm' });
  });

  it('ignores an event whose fields are not the strings Slack sends', () => {
    expect(classify(ev({ channel: 5 as unknown as string, channel_type: 'im' }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', ts: 1.5 as unknown as string }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', user: ['U1'] as unknown as string }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', text: { a: 1 } as unknown as string }), me)).toBeNull();
    expect(classify(ev({ type: 'app_mention', thread_ts: 7 as unknown as string }), me)).toBeNull();
    // Nor ids that could not address a reply: a channel id must be Slack's, a ts a ts.
    expect(classify(ev({ channel: '\u202eD1', channel_type: 'im' }), me)).toBeNull();
    expect(classify(ev({ channel: 'c1 ', type: 'app_mention' }), me)).toBeNull();
    expect(classify(ev({ type: 'app_mention', thread_ts: 'soon' }), me)).toBeNull();
    expect(classify(ev({ channel: 'D1', text: 'fine' }), me)).toEqual({ chatType: 'dm' });
  });

  it('identifies a message by team, channel and ts whichever event delivered it', () => {
    expect(messageEventId('T1', 'C1', '1.000100')).toBe('T1:C1:1.000100');
    // Thread conversation keys survive the round trip (ts contains a dot, ids no colon).
    const key = { platform: 'slack' as const, chatId: 'C1', threadId: '1700000000.000100', userId: 'U1' };
    expect(encodeKey(key)).toBe('slack:C1:thread:1700000000.000100:user:U1');
    expect(decodeKey(encodeKey(key))).toEqual(key);
  });

  it('maps subcommands to the engine\'s text commands', () => {
    const t = (s: string) => {
      const r = parseSubcommand(menu, s, '/charbridge');
      return r.ok ? r.engineText : `usage: ${r.text.slice(0, 20)}`;
    };
    expect(t('')).toBe('/help');
    expect(t('clear')).toBe('/clear');
    expect(t('character  Professor Lin')).toBe('/character Professor Lin');
    expect(t('status')).toBe('/status');
    expect(t('proactive off')).toBe('/proactive off');
    expect(t('proactive test')).toBe('/admin proactive test');
    expect(t('scope per-user')).toBe('/admin scope per-user');
    expect(t('ENGAGE mention')).toBe('/admin engage mention');
    expect(t('limit 5')).toBe('/admin limit 5');
    expect(t('admin limit off')).toBe('/admin limit off');
    expect(t('dance')).toMatch(/^usage: Unknown subcommand/);
    expect(t('admin')).toMatch(/^usage: Try/);
  });

  it('rewrites the engine\'s command names into the Slack command', () => {
    expect(slashify(menu, 'Usage: /admin scope shared|per-user', '/cb')).toBe('Usage: /cb scope shared|per-user');
    expect(slashify(menu, 'Switch with /character <name>. Send /help', '/cb')).toBe('Switch with /cb character <name>. Send /cb help');
    expect(slashify(menu, '/clear — start fresh\nsee https://x.dev/clear', '/cb')).toBe('/cb clear — start fresh\nsee https://x.dev/clear');
  });

  it('caches users.info, shares lookups in flight, and falls back to the stale answer', async () => {
    let t = 0;
    let calls = 0;
    let fail = false;
    const dir = new UserDirectory(
      async (id) => {
        calls++;
        if (fail) throw new Error('down');
        return { name: id, isAdmin: calls === 1, isBot: false };
      },
      { ttlMs: 1000, now: () => t, onError: () => undefined },
    );
    const [a, b] = await Promise.all([dir.get('U1'), dir.get('U1')]);
    expect([a.isAdmin, b.isAdmin, calls]).toEqual([true, true, 1]);
    t = 999;
    expect((await dir.get('U1')).isAdmin).toBe(true);
    t = 1000;
    fail = true;
    expect(await dir.get('U1')).toEqual({ name: 'U1', isAdmin: true, isBot: false });
    expect(await dir.get('U2')).toEqual({ name: '', isAdmin: false, isBot: false });
  });

  it('keeps the most recently used users when the directory is full, instead of forgetting everyone', async () => {
    const asked: string[] = [];
    const dir = new UserDirectory(async (id) => (asked.push(id), { name: id, isAdmin: false, isBot: false }), { ttlMs: 60_000, now: () => 1, onError: () => undefined, max: 2 });
    for (const id of ['U1', 'U2', 'U1', 'U3', 'U1', 'U2']) await dir.get(id);
    expect(asked).toEqual(['U1', 'U2', 'U3', 'U2']); // U2 was the least recently used when U3 came
  });
});

describe('HTTP receiver checks', () => {
  const secret = 'shh-secret';
  const body = Buffer.from('{"type":"event_callback"}');
  const now = 1_700_000_000_000;
  const headers = (ts: number, sig = slackSignature(secret, ts, body.toString())) => ({ 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sig });

  it('accepts Slack\'s v0 signature within 5 minutes, refuses everything else', () => {
    const ts = now / 1000;
    expect(verifySlackSignature(secret, headers(ts), body, now)).toBeNull();
    expect(verifySlackSignature(secret, headers(ts - 299), body, now)).toBeNull();
    expect(verifySlackSignature(secret, headers(ts - 301), body, now)).toBe('stale timestamp');
    expect(verifySlackSignature(secret, headers(ts + 301), body, now)).toBe('stale timestamp');
    expect(verifySlackSignature(secret, headers(ts, slackSignature('other', ts, body.toString())), body, now)).toBe('bad signature');
    expect(verifySlackSignature(secret, headers(ts, 'v0=short'), body, now)).toBe('bad signature');
    expect(verifySlackSignature(secret, headers(ts), Buffer.from('{"type":"tampered"}'), now)).toBe('bad signature');
    expect(verifySlackSignature(secret, {}, body, now)).toBe('missing headers');
  });

  it('parses JSON, slash-command forms and interactivity payloads', () => {
    const event = { type: 'event_callback', event: { type: 'message', text: 'hi' } };
    expect(parseSlackBody('application/json', Buffer.from(JSON.stringify(event)))).toEqual(event);
    // Bolt reads an event callback's `event` unchecked: without one (or with a non-object) it is refused here.
    expect(() => parseSlackBody('application/json', body)).toThrow('event is not an object');
    expect(() => parseSlackBody('application/json', Buffer.from('{"type":"event_callback","event":null}'))).toThrow('event is not an object');
    expect(parseSlackBody('application/x-www-form-urlencoded', Buffer.from('command=%2Fcb&text=status'))).toEqual({ command: '/cb', text: 'status' });
    expect(parseSlackBody('application/x-www-form-urlencoded; charset=utf-8', Buffer.from(`payload=${encodeURIComponent('{"type":"block_actions"}')}`))).toEqual({ type: 'block_actions' });
    expect(() => parseSlackBody('application/json', Buffer.from('[1]'))).toThrow();
  });
});

describe('outbound pieces', () => {
  it('keeps optional work under the tier minus its reserve; required work always goes and counts', () => {
    let t = 0;
    const gate = new TierGate({ 'chat.update': { max: 4, windowMs: 1000, reserve: 1 } }, () => t);
    expect([gate.tryTake('chat.update'), gate.tryTake('chat.update'), gate.tryTake('chat.update'), gate.tryTake('chat.update')]).toEqual([true, true, true, false]);
    gate.take('chat.update');
    t = 999;
    expect(gate.tryTake('chat.update')).toBe(false);
    t = 1000;
    expect(gate.tryTake('chat.update')).toBe(true);
    expect(gate.tryTake('chat.postMessage')).toBe(true); // no tier: not limited here
  });

  it("holds optional work back while the instances together have used a tier up to its reserve", async () => {
    let t = 0;
    const tier = { max: 4, windowMs: 1000, reserve: 1 };
    // What Redis counts in a deployment: every instance's calls of a method, in one window.
    const calls: number[] = [];
    const tally = (): SharedTally => ({
      add: async () => {
        calls.push(t);
        const recent = calls.filter((at) => at > t - tier.windowMs);
        const cap = tier.max - tier.reserve;
        return recent.length < cap ? 0 : recent[recent.length - cap]! + tier.windowMs - t;
      },
    });
    const a = new TierGate({ 'chat.update': tier }, () => t, tally);
    const b = new TierGate({ 'chat.update': tier }, () => t, tally);
    const settled = () => new Promise((r) => setImmediate(r));
    expect(a.tryTake('chat.update')).toBe(true);
    t = 10;
    expect(b.tryTake('chat.update')).toBe(true);
    t = 20;
    expect(a.tryTake('chat.update')).toBe(true);
    await settled();
    // Alone, each gate has counted one or two calls and would go on; together they have used three of four.
    expect([a.hasRoom('chat.update'), b.hasRoom('chat.update')]).toEqual([false, true]);
    b.take('chat.update'); // required work still goes, and is counted
    await settled();
    expect([a.hasRoom('chat.update'), b.hasRoom('chat.update')]).toEqual([false, false]);
    t = 1009; // until the second-oldest call has left the window
    expect(b.hasRoom('chat.update')).toBe(false);
    t = 1010;
    expect([a.hasRoom('chat.update'), b.hasRoom('chat.update')]).toEqual([true, true]);
  });

  it('accepts SLACK_API_URL as an origin or as the /api/ base', () => {
    expect(normalizeApiUrl('http://127.0.0.1:9000')).toBe('http://127.0.0.1:9000/api/');
    expect(normalizeApiUrl('http://127.0.0.1:9000/api')).toBe('http://127.0.0.1:9000/api/');
    expect(normalizeApiUrl('https://slack.example/api/')).toBe('https://slack.example/api/');
  });
});
