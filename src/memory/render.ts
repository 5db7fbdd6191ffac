import { countRepeatedTokens as countTokens } from '../llm/index.js';
import type { MemoryFact, RecalledLine } from '../store/index.js';

/** Facts, then the summary, each cut to its share of the budget; returns the text and its tokens. */
export function renderRemembered(
  facts: MemoryFact[],
  summary: string | null,
  who: string,
  budget: { facts: number; summary: number },
): { text: string; tokens: number } | undefined {
  const lines: string[] = [];
  let used = 0;
  const factLines: string[] = [];
  // The newest facts matter most when not all fit; they are shown in their usual order.
  for (const f of [...facts].reverse()) {
    const line = `- ${f.text}`;
    const t = countTokens(line) + 1;
    if (used + t > budget.facts) break;
    used += t;
    factLines.unshift(line);
  }
  let summaryText = '';
  const summaryBudget = budget.summary + (budget.facts - used);
  if (summary) summaryText = cutToTokens(summary, summaryBudget);
  if (!factLines.length && !summaryText) return undefined;
  lines.push(`What you remember about ${who} from earlier conversations (long-term memory; use it naturally, never recite it as a list):`);
  if (factLines.length) lines.push(...factLines);
  if (summaryText) lines.push(`The story so far: ${summaryText}`);
  const text = lines.join('\n');
  return { text, tokens: countTokens(text) };
}

/** Recalled lines, oldest first, within `budget` tokens (best ranked kept first). */
export function renderRecalled(lines: RecalledLine[], characterName: string, budget: number): string | undefined {
  const header = 'Earlier in this conversation (recalled; it may help answer the next message):';
  let used = countTokens(header);
  const kept: RecalledLine[] = [];
  for (const l of lines) {
    const t = countTokens(lineText(l, characterName)) + 1;
    if (used + t > budget) continue;
    used += t;
    kept.push(l);
  }
  if (!kept.length) return undefined;
  kept.sort((a, b) => a.seq - b.seq);
  return [header, ...kept.map((l) => lineText(l, characterName))].join('\n');
}

function lineText(l: RecalledLine, characterName: string): string {
  const who = l.role === 'user' ? (l.authorName ?? 'User') : characterName;
  const content = l.content.length > 400 ? `${l.content.slice(0, 400)}…` : l.content;
  return `[${l.createdAt.slice(0, 10)}] ${who}: ${content.replace(/\s*\n\s*/g, ' ')}`;
}

/** The text cut at a sentence (or word) boundary to at most `tokens` tokens. */
export function cutToTokens(text: string, tokens: number): string {
  if (tokens <= 0) return '';
  if (countTokens(text) <= tokens) return text;
  const sentences = text.split(/(?<=[.!?])\s+/);
  let out = '';
  for (const s of sentences) {
    const next = out ? `${out} ${s}` : s;
    if (countTokens(next) > tokens) break;
    out = next;
  }
  return out;
}
