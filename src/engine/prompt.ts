import { expandMacros, macroCharName } from '../cards/index.js';
import type { Character, ChatType } from '../core/types.js';

/** Replace `{{char}}` and `{{user}}` (any case, optional spaces) the way character cards expect. */
export function substitute(text: string, charName: string, userName: string): string {
  return text.replace(/\{\{\s*char\s*\}\}/gi, charName).replace(/\{\{\s*user\s*\}\}/gi, userName);
}

/** When the prompt is built: the macros {{time}}, {{date}} and {{weekday}} read it. */
export interface MacroMoment {
  now?: Date | undefined;
  /** For {{random}}; tests pass a fixed one. */
  random?: (() => number) | undefined;
}

/**
 * The card macros of one character for one user at one moment: {{char}} (the nickname when
 * set), {{user}}, {{time}}, {{date}}, {{weekday}}, {{random:…}}, comments removed; unknown
 * macros stay as written.
 */
export function macrosFor(c: Pick<Character, 'name' | 'nickname'>, userName: string, moment: MacroMoment = {}): (text: string) => string {
  const char = macroCharName({ name: c.name, nickname: c.nickname ?? undefined });
  const ctx = { char, user: userName, now: moment.now ?? new Date(), ...(moment.random ? { random: moment.random } : {}) };
  return (text) => expandMacros(text, ctx);
}

const VOLATILE = /\{\{\s*(time|date|weekday|random\b)/i;

/** Whether a character's prompt text changes from one turn to the next ({{time}}, {{random}}…), so it must not be cached. */
export function hasVolatileMacros(c: Character): boolean {
  return [c.systemPrompt, c.description, c.personality, c.speakingStyle, c.appearanceDescription, c.scenario, c.exampleDialogue].some(
    (t) => t !== null && VOLATILE.test(t),
  );
}

/**
 * The system message for a character: our opening instructions and the character definition
 * (identity, personality, speaking style, details, scenario, example dialogue). A card's own
 * `systemPrompt` replaces the opening instructions the way SillyTavern's does (`{{original}}`
 * stands for ours); the character definition still follows it.
 *
 * @example buildSystemPrompt(aria, { userName: 'Sam', chatType: 'dm' })
 */
export function buildSystemPrompt(c: Character, opts: { userName: string; chatType: ChatType } & MacroMoment): string {
  const sub = macrosFor(c, opts.userName, opts);
  const identity = `You are ${c.name}.${c.description ? ` ${sub(c.description)}` : ''}`;
  const stay = `Stay in character as ${c.name} at all times, talking with ${opts.chatType === 'dm' ? opts.userName : 'the people in this chat'}.`;
  const group = opts.chatType !== 'dm' ? `This is a group chat: each message starts with the speaker's name. Reply as ${c.name} only, without a name prefix.` : null;
  const closing = 'Keep replies conversational and reasonably short unless asked for more.';

  const definition: string[] = [];
  if (c.personality) definition.push(`Personality: ${sub(c.personality)}`);
  if (c.speakingStyle) definition.push(`Speaking style: ${sub(c.speakingStyle)}`);
  const facts = [c.age !== null ? `age ${c.age}` : null, c.gender ? c.gender : null, c.occupation ? `occupation: ${c.occupation}` : null].filter(Boolean);
  if (facts.length) definition.push(`About you: ${facts.join(', ')}.`);
  if (c.appearanceDescription) definition.push(`Appearance: ${sub(c.appearanceDescription)}`);
  if (c.scenario) definition.push(`Scenario: ${sub(c.scenario)}`);
  if (c.exampleDialogue) {
    definition.push(`Example dialogue (shows your voice; it is not part of this conversation):\n${sub(c.exampleDialogue)}`);
  }

  if (c.systemPrompt) {
    const original = [stay, group, closing].filter(Boolean).join('\n');
    const opening = sub(c.systemPrompt).replace(/\{\{\s*original\s*\}\}/gi, original);
    return [opening, identity, ...definition].join('\n');
  }
  return [identity, stay, ...definition, ...(group ? [group] : []), closing].join('\n');
}

/** The post-history instructions, with macros; placed after the history, as cards intend. */
export function buildPostHistory(c: Character, userName: string, moment: MacroMoment = {}): string | null {
  return c.postHistoryInstructions ? macrosFor(c, userName, moment)(c.postHistoryInstructions) : null;
}

/**
 * The character's first messages for a chat: in groups the card's group-only greetings when it
 * has them; otherwise the greeting followed by the alternate greetings.
 */
export function greetingsOf(c: Character, chatType: ChatType): string[] {
  if (chatType !== 'dm' && c.groupGreetings.length) return c.groupGreetings;
  return [...(c.greeting ? [c.greeting] : []), ...c.alternateGreetings];
}

/**
 * A first message for `/start [n]`: greeting n (1 = the card's first message, 2 = its first
 * alternate, …; out of range wraps around), or a plain hello in the character's name.
 */
export function greetingOf(c: Character, userName: string, opts: { chatType?: ChatType; n?: number } & MacroMoment = {}): string {
  const all = greetingsOf(c, opts.chatType ?? 'dm');
  const n = opts.n ?? 1;
  const chosen = all.length ? all[(((n - 1) % all.length) + all.length) % all.length] : undefined;
  return chosen !== undefined ? macrosFor(c, userName, opts)(chosen) : `Hi, I'm ${c.name}. ${c.description ?? ''}`.trim();
}
