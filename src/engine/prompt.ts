import type { Character, ChatType } from '../core/types.js';

/** Replace `{{char}}` and `{{user}}` (any case, optional spaces) the way character cards expect. */
export function substitute(text: string, charName: string, userName: string): string {
  return text.replace(/\{\{\s*char\s*\}\}/gi, charName).replace(/\{\{\s*user\s*\}\}/gi, userName);
}

/**
 * The system message for a character: identity, personality, speaking style, details,
 * scenario and example dialogue — or the card's own `systemPrompt` override.
 *
 * @example buildSystemPrompt(aria, { userName: 'Sam', chatType: 'dm' })
 */
export function buildSystemPrompt(c: Character, opts: { userName: string; chatType: ChatType }): string {
  const sub = (t: string) => substitute(t, c.name, opts.userName);
  if (c.systemPrompt) return sub(c.systemPrompt);
  const lines: string[] = [];
  lines.push(`You are ${c.name}.${c.description ? ` ${sub(c.description)}` : ''}`);
  lines.push(`Stay in character as ${c.name} at all times, talking with ${opts.chatType === 'dm' ? opts.userName : 'the people in this chat'}.`);
  lines.push(`Personality: ${sub(c.personality)}`);
  lines.push(`Speaking style: ${sub(c.speakingStyle)}`);
  const facts = [
    c.age !== null ? `age ${c.age}` : null,
    c.gender ? c.gender : null,
    c.occupation ? `occupation: ${c.occupation}` : null,
  ].filter(Boolean);
  if (facts.length) lines.push(`About you: ${facts.join(', ')}.`);
  if (c.appearanceDescription) lines.push(`Appearance: ${sub(c.appearanceDescription)}`);
  if (c.scenario) lines.push(`Scenario: ${sub(c.scenario)}`);
  if (c.exampleDialogue) {
    lines.push(`Example dialogue (shows your voice; it is not part of this conversation):\n${sub(c.exampleDialogue)}`);
  }
  if (opts.chatType !== 'dm') {
    lines.push(`This is a group chat: each message starts with the speaker's name. Reply as ${c.name} only, without a name prefix.`);
  }
  lines.push('Keep replies conversational and reasonably short unless asked for more.');
  return lines.join('\n');
}

/** The post-history instructions, substituted; placed after the history, as cards intend. */
export function buildPostHistory(c: Character, userName: string): string | null {
  return c.postHistoryInstructions ? substitute(c.postHistoryInstructions, c.name, userName) : null;
}

/** The first message for `/start`: the card's greeting, or a plain hello in the character's name. */
export function greetingOf(c: Character, userName: string): string {
  return c.greeting ? substitute(c.greeting, c.name, userName) : `Hi, I'm ${c.name}. ${c.description ?? ''}`.trim();
}
