/** The pure parts of memory: reading the model's JSON, owner keys, cutting a summary, rendering within a budget. */
import { describe, expect, it } from 'vitest';
import { parseExtraction, ownerKeyOf, isSharedChat } from '../../src/memory/index.js';
import { extractionPrompt, MAX_TRANSCRIPT_LINE_CHARS, transcriptLine } from '../../src/memory/extraction.js';
import { withoutSentencesAbout } from '../../src/memory/control.js';
import { answeredBy } from '../../src/memory/extractor.js';
import { renderRemembered, cutToTokens } from '../../src/memory/render.js';
import { countTokens } from '../../src/llm/index.js';
import type { StoredMessage } from '../../src/core/types.js';

describe('parseExtraction', () => {
  it('reads the documented shape', () => {
    expect(parseExtraction('{"facts":["A"],"update":[{"n":2,"fact":"B"}],"remove":[3],"summary":"S."}')).toEqual({ facts: ['A'], update: [{ n: 2, fact: 'B' }], remove: [3], summary: 'S.' });
    expect(parseExtraction('{}')).toEqual({ facts: [], update: [], remove: [], summary: undefined });
  });

  it('tolerates prose and code fences around the object, and wrong types field by field', () => {
    const text = 'Here you go:\n```json\n{"facts": ["Likes tea", 7, {"fact": "Has a dog"}, ""], "update": [{"n": "1", "fact": "X"}, {"n": 2}], "remove": ["4", "x"], "summary": 5}\n```';
    expect(parseExtraction(text)).toEqual({ facts: ['Likes tea', 'Has a dog'], update: [{ n: 1, fact: 'X' }], remove: [4], summary: undefined });
  });

  it('gives up on no object at all', () => {
    for (const bad of ['', 'sorry', '["a"]', '{"facts": [', 'null']) expect(parseExtraction(bad)).toBeUndefined();
  });
});

describe('owners', () => {
  const conv = (scopeKey: string | null, chatType: 'dm' | 'group' | 'thread' = 'group') => ({ id: 'conv_1', scopeKey, chatType });
  it('drops the thread, keeps the user of a per-user scope, and names API sessions by id', () => {
    expect(ownerKeyOf(conv('telegram:-100:thread:7'))).toBe('telegram:-100');
    expect(ownerKeyOf(conv('telegram:-100:thread:7:user:5'))).toBe('telegram:-100:user:5');
    expect(ownerKeyOf(conv('discord:42', 'dm'))).toBe('discord:42');
    expect(ownerKeyOf(conv('api:key_1/user/u1', 'dm'))).toBe('api:key_1/user/u1');
    expect(ownerKeyOf(conv(null, 'dm'))).toBe('session:conv_1');
  });

  it('a group shared by everyone is managed by admins; DMs and per-user scopes by each user', () => {
    expect(isSharedChat(conv('telegram:-100'))).toBe(true);
    expect(isSharedChat(conv('telegram:-100:thread:7', 'thread'))).toBe(true);
    expect(isSharedChat(conv('telegram:-100:user:5'))).toBe(false);
    expect(isSharedChat(conv('telegram:5', 'dm'))).toBe(false);
  });
});

describe('forgetting and rendering', () => {
  it('cuts the summary sentences about a forgotten fact', () => {
    const summary = 'Sam talked about his sister Ilse. They planned a trip to Oslo. Aria told a joke.';
    expect(withoutSentencesAbout(summary, 'Sam has a sister called Ilse')).toBe('They planned a trip to Oslo. Aria told a joke.');
    expect(withoutSentencesAbout(summary, 'Likes tea')).toBe(summary);
  });

  it('keeps the newest facts and passes unused budget to the summary', () => {
    const facts = Array.from({ length: 30 }, (_, i) => ({ id: i, text: `Fact number ${i} about something`, sourceSeqs: [], createdMs: 0, updatedMs: 0 }));
    const r = renderRemembered(facts, 'One. Two. Three.', 'Sam', { facts: 40, summary: 10 })!;
    expect(r.text).toContain('Fact number 29');
    expect(r.text).not.toContain('Fact number 0 ');
    expect(renderRemembered(facts.slice(0, 1), 'A long summary sentence here. '.repeat(3), 'Sam', { facts: 100, summary: 5 })!.text).toContain('The story so far: A long summary sentence here.');
    expect(renderRemembered([], null, 'Sam', { facts: 100, summary: 100 })).toBeUndefined();
    expect(countTokens(cutToTokens('First sentence. Second sentence. Third.', 4))).toBeLessThanOrEqual(4);
  });
});

describe('answeredBy', () => {
  const m = (seq: number, role: 'user' | 'assistant', authorId: string | null = null): StoredMessage => ({
    seq, id: `m${seq}`, conversationId: 'c', role, kind: role, content: `${seq}`, imageUrls: [], tokenCount: 1, authorId, authorName: null, createdAt: '',
  });
  it("keeps the character's turns, skips another's, and leaves an unanswered message unread", () => {
    const r = answeredBy([m(1, 'user'), m(2, 'assistant', 'aria'), m(3, 'user'), m(4, 'assistant', 'nyx'), m(5, 'user')], 'aria');
    expect(r.messages.map((x) => x.seq)).toEqual([1, 2]);
    expect(r.lastSeq).toBe(4);
  });
});

describe('the extraction transcript', () => {
  it('keeps at most MAX_TRANSCRIPT_LINE_CHARS of a message, so a batch of long messages stays a modest request', () => {
    const long = (content: string): StoredMessage => ({ seq: 1, id: 'msg_1', conversationId: 'c', role: 'user', kind: 'user', content, imageUrls: [], tokenCount: 1, authorId: null, authorName: 'Sam', createdAt: '' });
    expect(transcriptLine(long('I have a cat called Pixel.'), 'Aria')).toBe('[user] Sam: I have a cat called Pixel.');
    const line = transcriptLine(long(`My cat is Pixel. ${'blah '.repeat(4000)}`), 'Aria');
    expect(line.startsWith('[user] Sam: My cat is Pixel. blah')).toBe(true);
    expect(line.endsWith('… [cut]')).toBe(true);
    expect(line.length).toBeLessThan(MAX_TRANSCRIPT_LINE_CHARS + 30);
    const prompt = extractionPrompt({ characterName: 'Aria', instructions: null, facts: [], summary: null, messages: Array.from({ length: 60 }, () => long('x'.repeat(20_000))), maxFacts: 50 });
    expect(prompt.map((p) => String(p.content)).join('').length).toBeLessThan(70_000);
  });
});
