import type { StoredMessage } from '../core/types.js';
import type { ModelMessage } from '../llm/index.js';
import type { MemoryFact } from '../store/index.js';

/**
 * What the extraction model answers, as the README documents it: new facts, changed facts by
 * their number in the list it was shown, numbers of facts no longer true, and the rolling
 * summary rewritten with what it just read.
 */
export interface ExtractionAnswer {
  facts: string[];
  update: Array<{ n: number; fact: string }>;
  remove: number[];
  /** undefined: keep the summary as it is. */
  summary: string | undefined;
}

export interface ExtractionInput {
  characterName: string;
  /** What the character's card says to remember, if anything. */
  instructions: string | null;
  facts: MemoryFact[];
  summary: string | null;
  messages: StoredMessage[];
  maxFacts: number;
}

const MAX_FACT_CHARS = 300;
const MAX_SUMMARY_CHARS = 2000;

/**
 * The most of one message a transcript line keeps. Facts are short sentences, and a batch holds
 * up to sixty messages, which nobody pays for (extraction is charged no credits): sixty messages
 * of 20,000 characters were a 126,000-token request.
 */
export const MAX_TRANSCRIPT_LINE_CHARS = 1000;

/** One transcript line per message, with who spoke; `[user]`/`[character]` say which side. */
export function transcriptLine(m: StoredMessage, characterName: string): string {
  const who = m.role === 'user' ? `[user] ${m.authorName ?? 'User'}` : `[character] ${characterName}`;
  const images = m.imageUrls.length ? ` [sent ${m.imageUrls.length} image(s)]` : '';
  const text = m.content.replace(/\s*\n\s*/g, ' ');
  const kept = text.length > MAX_TRANSCRIPT_LINE_CHARS ? `${text.slice(0, MAX_TRANSCRIPT_LINE_CHARS)}… [cut]` : text;
  return `${who}: ${kept}${images}`;
}

/** The JSON-mode request that turns new messages into facts and a summary. */
export function extractionPrompt(x: ExtractionInput): ModelMessage[] {
  const full = x.facts.length >= x.maxFacts;
  const system = [
    `You maintain the long-term memory of ${x.characterName}, a character in a chat.`,
    'Read the new messages and answer with one JSON object:',
    '{"facts": ["new durable fact", …], "update": [{"n": 2, "fact": "the fact as it is now"}], "remove": [3], "summary": "…"}',
    '- facts: durable facts about the user(s) and the relationship worth remembering for weeks: names, preferences, plans, events with their dates, people and pets. One short sentence each, naming who it is about. Nothing already known, no small talk, nothing about the character itself.',
    '- update: a known fact that changed (use its number): "moved from Lyon to Oslo" replaces "lives in Lyon".',
    '- remove: numbers of known facts that are no longer true.',
    `- summary: the story so far in at most 5 sentences, the previous summary updated with the new messages.`,
    full ? `- The memory is full (${x.maxFacts} facts): merge related facts with update and remove what matters least, so no more than ${x.maxFacts} remain.` : `- Keep at most ${x.maxFacts} facts in all.`,
    'Answer {} when nothing is worth remembering.',
    x.instructions ? `What this character should remember: ${x.instructions}` : '',
  ].filter(Boolean);
  const known = x.facts.length ? x.facts.map((f, i) => `${i + 1}. ${f.text}`).join('\n') : '(none)';
  const user = [
    `Known facts:\n${known}`,
    `Previous summary:\n${x.summary ?? '(none)'}`,
    `New messages:\n${x.messages.map((m) => transcriptLine(m, x.characterName)).join('\n')}`,
  ].join('\n\n');
  return [
    { role: 'system', content: system.join('\n') },
    { role: 'user', content: user },
  ];
}

/**
 * Read the model's answer tolerantly: a JSON object anywhere in the text (models wrap it in
 * prose or code fences), fields of the wrong type ignored one by one. Returns undefined when no
 * object can be read at all, so the caller logs it and skips the batch.
 */
export function parseExtraction(text: string): ExtractionAnswer | undefined {
  const obj = firstObject(text);
  if (!obj) return undefined;
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, MAX_FACT_CHARS) : undefined);
  const num = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);
  const arr = (v: unknown) => (Array.isArray(v) ? v : []);
  const facts = arr(obj.facts)
    .map((f) => str(typeof f === 'object' && f !== null ? (f as { fact?: unknown; text?: unknown }).fact ?? (f as { text?: unknown }).text : f))
    .filter((f): f is string => f !== undefined);
  const update = arr(obj.update).flatMap((u) => {
    if (typeof u !== 'object' || u === null) return [];
    const n = num((u as { n?: unknown }).n);
    const fact = str((u as { fact?: unknown }).fact);
    return n !== undefined && fact ? [{ n, fact }] : [];
  });
  const remove = arr(obj.remove).map(num).filter((n): n is number => n !== undefined);
  const summary = typeof obj.summary === 'string' && obj.summary.trim() ? obj.summary.trim().slice(0, MAX_SUMMARY_CHARS) : undefined;
  return { facts, update, remove, summary };
}

function firstObject(text: string): Record<string, unknown> | undefined {
  const tryParse = (s: string) => {
    try {
      const v: unknown = JSON.parse(s);
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const whole = tryParse(text.trim());
  if (whole) return whole;
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  return start >= 0 && end > start ? tryParse(text.slice(start, end + 1)) : undefined;
}

/** A fact as compared with others: the same fact said again (case, spacing and final punctuation aside) has the same key. */
export function factKey(text: string): string {
  return text.toLowerCase().replace(/[\s.!?]+$/g, '').replace(/\s+/g, ' ').trim();
}
