/** What the macros in card text stand for at one moment of one chat. */
export interface MacroContext {
  /** The character's display name ({@link macroCharName} gives the V3 choice). */
  char: string;
  /** The user's display name. */
  user: string;
  now: Date;
  /** IANA zone for {{time}}, {{date}} and {{weekday}}; the process zone when absent. */
  timeZone?: string;
  /** Source of randomness in [0, 1) for {{random}}; inject one to make output repeatable. */
  random?: () => number;
}

/** The V3 rule for `{{char}}`: the nickname when it is set, else the name. */
export function macroCharName(card: { name: string; nickname?: string | undefined }): string {
  return card.nickname?.trim() ? card.nickname : card.name;
}

/**
 * Expands the SillyTavern macros a card's text uses: {{char}}, {{user}}, {{time}}, {{date}},
 * {{weekday}}, {{random:a,b}} / {{random::a::b}}, {{// comments}} (removed, may span lines) and
 * the legacy <USER>, <BOT> and <CHAR>. Names ignore case and surrounding spaces; macros nest
 * (`{{random:{{user}},friend}}`), and substituted values are never expanded again, so a user
 * named "{{char}}" stays literal. Anything unknown is left exactly as written, and so is a macro
 * nested deeper than MAX_MACRO_DEPTH (cards nest two or three deep; ten thousand levels of
 * `{{` would otherwise overflow the stack and fail every turn of the character).
 */
export function expandMacros(text: string, ctx: MacroContext): string {
  // Most text (a lorebook's thousands of keys, a plain message) holds no macro at all.
  if (!text.includes('{{') && !text.includes('<')) return text;
  return expandRange(text, 0, text.length, pairBraces(text), ctx);
}

export const MAX_MACRO_DEPTH = 20;

/** One left-to-right pass pairing every `{{` with its `}}`, so nesting costs no rescans. */
function pairBraces(text: string): Map<number, number> {
  const pairs = new Map<number, number>();
  const open: number[] = [];
  for (let i = 0; i < text.length - 1; i++) {
    if (text[i] === '{' && text[i + 1] === '{') {
      open.push(i);
      i++;
    } else if (text[i] === '}' && text[i + 1] === '}') {
      const start = open.pop();
      if (start !== undefined) pairs.set(start, i);
      i++;
    }
  }
  return pairs;
}

function expandRange(text: string, from: number, to: number, pairs: Map<number, number>, ctx: MacroContext, depth = 0): string {
  let out = '';
  let at = from;
  for (let open = text.indexOf('{{', at); open !== -1 && open < to; open = text.indexOf('{{', at)) {
    const close = pairs.get(open);
    if (close === undefined || close >= to) {
      out += legacy(text.slice(at, open + 2), ctx); // an unclosed "{{" is plain text
      at = open + 2;
      continue;
    }
    out += legacy(text.slice(at, open), ctx);
    if (depth >= MAX_MACRO_DEPTH) out += text.slice(open, close + 2);
    else if (!/^\s*\/\//.test(text.slice(open + 2, close))) {
      const inner = expandRange(text, open + 2, close, pairs, ctx, depth + 1);
      out += evaluate(inner, ctx) ?? text.slice(open, close + 2);
    }
    at = close + 2;
  }
  return out + legacy(text.slice(at, to), ctx);
}

function legacy(text: string, ctx: MacroContext): string {
  return text.replace(/<(USER|BOT|CHAR)>/gi, (_, name: string) => (name.toLowerCase() === 'user' ? ctx.user : ctx.char));
}

/** The value of one macro (its inner text already expanded), or undefined when unknown. */
function evaluate(inner: string, ctx: MacroContext): string | undefined {
  const body = inner.trim();
  const random = /^random\s*::?([\s\S]+)$/i.exec(body);
  if (random) return pick(randomChoices(random[1] ?? ''), ctx);
  switch (body.toLowerCase()) {
    case 'char':
      return ctx.char;
    case 'user':
      return ctx.user;
    case 'time':
      return formatNow(ctx, { hour: 'numeric', minute: '2-digit' });
    case 'date':
      return formatNow(ctx, { month: 'long', day: 'numeric', year: 'numeric' });
    case 'weekday':
      return formatNow(ctx, { weekday: 'long' });
    default:
      return undefined;
  }
}

/**
 * SillyTavern's list rules: a list containing `::` splits on it as written; otherwise it splits
 * on commas, trims each item, and `\,` stands for a literal comma.
 */
function randomChoices(list: string): string[] {
  if (list.includes('::')) return list.split('::');
  return list.split(/(?<!\\),/).map((item) => item.replace(/\\,/g, ',').trim());
}

function pick(choices: string[], ctx: MacroContext): string {
  const roll = (ctx.random ?? Math.random)();
  const index = Math.min(choices.length - 1, Math.max(0, Math.floor(roll * choices.length)));
  return choices[index] ?? '';
}

/** English formats matching SillyTavern's moment.js output (LT, LL, dddd), in the given zone. */
function formatNow(ctx: MacroContext, options: Intl.DateTimeFormatOptions): string {
  const formatted = new Intl.DateTimeFormat('en-US', { ...options, ...(ctx.timeZone ? { timeZone: ctx.timeZone } : {}) }).format(ctx.now);
  return formatted.replace(/\u202f/g, ' ');
}
