/**
 * Outbound failure paths that the fake Bot API has no switch for, driven through a stand-in
 * transport passed in (the narrow interface outbound.ts depends on): entities Telegram refuses,
 * an edit of a message that is gone, a chat that refuses drafts, a turn that fails midway.
 */
import { describe, expect, it } from 'vitest';
import { TelegramError } from 'telegraf';
import { OutboundBudget } from '../../../adapters/shared/budget.js';
import { DraftSupport, deliverReply, sendText, type OutboundDeps, type ReplyTarget } from '../../../adapters/telegram/outbound.js';
import { telegramReplyMarks } from '../../../adapters/telegram/reply-marks.js';
import { retryAfterMs } from '../../../adapters/telegram/transport.js';
import type { ReplyEvent } from '../../../src/core/types.js';
import { ModelError } from '../../../src/core/errors.js';
import { testLogger } from '../../helpers/harness.js';
import { waitFor } from './world.js';

const tgError = (code: number, description: string) => new TelegramError({ error_code: code, description });

interface Call {
  method: string;
  text: string;
  parseMode?: string | undefined;
}

function stub(fail: (c: Call) => Error | undefined = () => undefined) {
  const calls: Call[] = [];
  let nextId = 1;
  const record = async (c: Call) => {
    calls.push(c);
    const err = fail(c);
    if (err) throw err;
  };
  const transport: OutboundDeps['transport'] = {
    sendMessage: async (_chat, text, o) => (await record({ method: 'sendMessage', text, parseMode: o?.parseMode }), nextId++),
    editMessageText: async (_chat, _id, text, o) => record({ method: 'editMessageText', text, parseMode: o?.parseMode }),
    sendMessageDraft: async (_chat, _draft, text, o) => record({ method: 'sendMessageDraft', text, parseMode: o?.parseMode }),
    sendTyping: async () => record({ method: 'sendChatAction', text: '' }),
  };
  const deps: OutboundDeps = {
    transport,
    budget: new OutboundBudget({ windowsFor: () => [], retryAfterMs }),
    drafts: new DraftSupport(),
    marks: telegramReplyMarks(undefined, testLogger()),
    log: testLogger(),
    tuning: { editIntervalMs: 5, firstSendDelayMs: 5, typingIntervalMs: 1000, maxMessageLength: 4096 },
  };
  return { calls, deps };
}

/** A reply stream the test writes into step by step. */
function events() {
  const queue: ReplyEvent[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(e: ReplyEvent) {
      queue.push(e);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const e = queue.shift();
        if (e) yield e;
        else if (ended) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

const start: ReplyEvent = { type: 'start', conversationId: 'c', characterId: 'x', characterName: 'Aria' };
const done = (content: string): ReplyEvent => ({
  type: 'done',
  conversationId: 'c',
  message: { id: 'm', content, sentAt: '' },
  usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
});
const dm: ReplyTarget = { chatId: 42, isPrivate: true };
const group: ReplyTarget = { chatId: -5, isPrivate: false, replyTo: 3 };

describe('telegram outbound', () => {
  it('resends as plain text when Telegram cannot parse the entities, and stays plain', async () => {
    const { calls, deps } = stub((c) => (c.parseMode === 'HTML' ? tgError(400, "Bad Request: can't parse entities: Unsupported start tag") : undefined));
    await sendText('**bold** and [a link](https://e.x)', group, deps);
    expect(calls).toEqual([
      { method: 'sendMessage', text: '<b>bold</b> and <a href="https://e.x">a link</a>', parseMode: 'HTML' },
      { method: 'sendMessage', text: 'bold and a link (https://e.x)', parseMode: undefined },
    ]);
  });

  it('sends the final text anew when the streamed message can no longer be edited', async () => {
    const { calls, deps } = stub((c) => (c.method === 'editMessageText' ? tgError(400, 'Bad Request: message to edit not found') : undefined));
    const ev = events();
    const delivered = deliverReply(ev, group, deps);
    ev.push(start);
    ev.push({ type: 'delta', text: 'Hello' });
    await waitFor(() => calls.some((c) => c.method === 'sendMessage'));
    ev.push({ type: 'delta', text: ' world' });
    ev.push(done('Hello world'));
    ev.end();
    await delivered;
    const shows = calls.filter((c) => c.method !== 'sendChatAction').map((c) => `${c.method}:${c.text}`);
    expect(shows[0]).toBe('sendMessage:Hello');
    expect(shows.at(-1)).toBe('sendMessage:Hello world');
  });

  it('stops using drafts in a chat that refuses them, and only there', async () => {
    const { calls, deps } = stub((c) => (c.method === 'sendMessageDraft' ? tgError(400, 'Bad Request: TEXTDRAFT_PEER_INVALID') : undefined));
    const ev = events();
    const delivered = deliverReply(ev, dm, deps);
    ev.push({ type: 'delta', text: 'streaming' });
    await waitFor(() => calls.some((c) => c.method === 'sendMessageDraft'));
    ev.push(done('streaming done'));
    ev.end();
    await delivered;
    expect(deps.drafts.usable(42)).toBe(false);
    expect(deps.drafts.usable(43)).toBe(true);
    expect(calls.filter((c) => c.method === 'sendMessage').at(-1)?.text).toBe('streaming done');
  });

  it('on a failed turn: shows only the error notice if nothing was shown, else finishes the partial text first', async () => {
    const error: ReplyEvent = { type: 'error', text: 'Sorry, try again.', error: new ModelError('boom') };
    const quiet = stub();
    await deliverReply([start, { type: 'delta', text: 'half a' }, error] as unknown as AsyncIterable<ReplyEvent>, group, quiet.deps).catch(() => undefined);
    expect(quiet.calls.filter((c) => c.method === 'sendMessage').map((c) => c.text)).toEqual(['Sorry, try again.']);

    const shown = stub();
    const ev = events();
    const delivered = deliverReply(ev, group, shown.deps);
    ev.push({ type: 'delta', text: 'half a' });
    await waitFor(() => shown.calls.some((c) => c.method === 'sendMessage'));
    ev.push({ type: 'delta', text: ' sentence' });
    ev.push(error);
    ev.end();
    await delivered;
    expect(shown.calls.map((c) => `${c.method}:${c.text}`)).toEqual(['sendMessage:half a', 'editMessageText:half a sentence', 'sendMessage:Sorry, try again.']);
  });
});
