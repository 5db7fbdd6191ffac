/**
 * How replies are shown: one message for a quick reply, edits (groups) or drafts (private chats)
 * for a streamed one, the draft fallback, splitting past 4096 characters, formatting, proactive
 * delivery. Limits are scaled 20× down on both sides (flood limits: limits.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DM, expectTexts, GROUP, okCalls, startWorld, SCALED_TUNING, type World } from './world.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

const bob = { id: 7, first_name: 'Bob' };
const sentence = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

/** Bot API calls that change what a chat shows, in order. */
const shows = (w: World, chatId: number) =>
  w.fake.calls.filter((c) => ['sendMessage', 'editMessageText', 'sendMessageDraft'].includes(c.method) && Number(c.params.chat_id) === chatId);

describe('Telegram reply streaming', () => {
  it('sends a reply that is complete before the first preview is due as one message, no edits', async () => {
    w = await startWorld({ tuning: { firstSendDelayMs: 5000 } });
    w.h.fake.respondWith('All **done** in one go & <quick>.');
    w.say('hi');
    await expectTexts(w, ['All done in one go & <quick>.']);
    expect(shows(w, DM.chat.id).map((c) => c.method)).toEqual(['sendMessage']);
    const [m] = w.fake.botMessages(DM.chat.id);
    expect(m!.entities).toEqual([{ type: 'bold', offset: 4, length: 4 }]);
    expect(m!.parse_mode).toBe('HTML');
  });

  it('in a group: one message, then paced edits showing the text so far; the final text lands', async () => {
    w = await startWorld({ chunkDelayMs: 15 });
    const reply = sentence(40);
    w.h.fake.respondWith(reply);
    w.say(`@${w.fake.bot.username} tell me`, { chat: GROUP, from: bob });
    await expectTexts(w, [reply], GROUP.id);
    const calls = shows(w, GROUP.id);
    expect(calls[0]!.method).toBe('sendMessage');
    expect(calls.slice(1).every((c) => c.method === 'editMessageText')).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(3); // streamed: a first message and several edits
    expect(calls.every((c) => c.ok)).toBe(true); // no 429, no "message is not modified"
    for (let i = 1; i < calls.length; i++) {
      expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(SCALED_TUNING.chatWindow!.windowMs); // ≤ 1 per interval
      expect(reply.startsWith(String(calls[i]!.params.text))).toBe(true); // each edit shows a prefix of the reply
    }
    expect(w.fake.botMessages(GROUP.id)[0]!.edits).toBe(calls.length - 1);
  });

  it('in a private chat: streams through sendMessageDraft, then persists with one sendMessage', async () => {
    w = await startWorld({ chunkDelayMs: 15 });
    const reply = sentence(30);
    w.h.fake.respondWith(reply);
    w.say('stream please');
    await expectTexts(w, [reply]);
    const methods = shows(w, DM.chat.id).map((c) => c.method);
    expect(methods.at(-1)).toBe('sendMessage');
    expect(methods.filter((m) => m === 'sendMessage')).toHaveLength(1);
    expect(methods).not.toContain('editMessageText');
    expect(w.fake.drafts.length).toBeGreaterThanOrEqual(2);
    expect(w.fake.drafts.every((d) => reply.startsWith(d.text) && d.draft_id > 0)).toBe(true);
  });

  it('falls back to edits when the server has no sendMessageDraft, and remembers it', async () => {
    w = await startWorld({ chunkDelayMs: 15, fake: { draftsSupported: false } });
    const reply = sentence(20);
    w.h.fake.respondWith(reply);
    w.say('first');
    await expectTexts(w, [reply]);
    w.say('second', { chat: { id: 43, type: 'private' }, from: { id: 43, first_name: 'Dee' } });
    await expectTexts(w, [reply], 43);
    const drafts = w.fake.calls.filter((c) => c.method === 'sendMessageDraft');
    expect(drafts.map((c) => c.status)).toEqual([404]); // tried once, for the whole process
    expect(okCalls(w.fake, 'editMessageText', 43).length).toBeGreaterThan(0);
  });

  it('splits a 4,500-character reply into two messages holding the whole text', async () => {
    w = await startWorld({ chunkDelayMs: 1 });
    const paragraph = (i: number) => `Paragraph ${i}: ${sentence(60)}.`;
    const reply = `${Array.from({ length: 12 }, (_, i) => paragraph(i)).join('\n\n').slice(0, 4499)}.`;
    expect(reply.length).toBe(4500);
    w.h.fake.respondWith(reply);
    w.say(`@${w.fake.bot.username} long one`, { chat: GROUP, from: bob });
    await expectTexts(w, [reply.slice(0, reply.lastIndexOf('\n\n', 4096)), reply.slice(reply.lastIndexOf('\n\n', 4096) + 2)], GROUP.id);
    expect(w.fake.botMessages(GROUP.id).map((m) => m.text).join('\n\n')).toBe(reply);
    expect(w.fake.tooManyRequests).toBe(0);
  });

  it('shows typing from the turn start, renewed while the model thinks', async () => {
    w = await startWorld({ tuning: { typingIntervalMs: 40 } });
    w.h.fake.slowFirstToken(300);
    w.say('think hard');
    await expectTexts(w, ['Echo: think hard']);
    const typing = okCalls(w.fake, 'sendChatAction', DM.chat.id);
    expect(typing.length).toBeGreaterThanOrEqual(3); // ~300 ms of thinking at one ping per 40 ms
    expect(typing.every((c) => c.params.action === 'typing')).toBe(true);
  });

  it('delivers a proactive message through the budget, formatted, into a topic when keyed so', async () => {
    w = await startWorld();
    await w.adapter.deliver!({ key: { platform: 'telegram', chatId: '42' }, text: 'Thinking of you, _Ann_.', characterName: 'Aria' });
    await w.adapter.deliver!({ key: { platform: 'telegram', chatId: String(GROUP.id), threadId: '5' }, text: 'Topic news', characterName: 'Aria' });
    await expectTexts(w, ['Thinking of you, Ann.']);
    expect(w.fake.botMessages(42)[0]!.entities).toEqual([{ type: 'italic', offset: 17, length: 3 }]);
    expect(okCalls(w.fake, 'sendMessage', GROUP.id)[0]!.params.message_thread_id).toBe(5);
  });
});
