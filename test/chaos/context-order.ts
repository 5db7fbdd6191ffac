/**
 * A model asked to answer a message while its context already held a later message of the same
 * chat: the later message's turn ran before this one's (a place in the chat line lapsed, or a
 * message was answered again after the chat went on). Counted, not judged, beside the replies out
 * of order: those are about what the user saw, this is about what the model saw.
 */

const TOKEN = /\b(tg|slk|dc)(\d+)\b/g;

/** One request the fake model answered: the message it answered and every message token its context held. */
export interface Asked {
  token: string;
  context: string[];
  /** When it was asked (ms since the epoch), for the run's trace. */
  at?: number;
}

/** The chat message tokens (`tg12`, `slk7`, `dc3`) in a text, in order. */
export function tokensIn(text: string): string[] {
  return [...text.matchAll(TOKEN)].map((m) => m[0]);
}

const parse = (token: string) => {
  const m = /^(tg|slk|dc)(\d+)$/.exec(token);
  return m ? { platform: m[1]!, n: Number(m[2]) } : undefined;
};

/**
 * Each message answered with a later message of its chat in its context, with those later ones.
 * Token numbers count up across the whole run as messages are sent, and a context is one
 * conversation's, so a token of the same platform with a higher number is a later message of the
 * same chat. A message asked about more than once is named once, with every later one seen.
 */
export function laterInContext(asked: readonly Asked[]): Array<{ token: string; later: string[] }> {
  const found = new Map<string, Set<string>>();
  for (const a of asked) {
    const own = parse(a.token);
    if (!own) continue;
    for (const t of a.context) {
      const other = parse(t);
      if (other?.platform !== own.platform || other.n <= own.n) continue;
      found.set(a.token, (found.get(a.token) ?? new Set()).add(t));
    }
  }
  return [...found].map(([token, later]) => ({ token, later: [...later] }));
}

/** `n messages answered with a later message of their chat in the model's context (…)`, for the run's summary. */
export function describeLaterInContext(found: ReadonlyArray<{ token: string; later: string[] }>): string {
  const list = found.slice(0, 8).map((f) => `${f.token} saw ${f.later.join('/')}`);
  return `${found.length} messages answered with a later message of their chat in the model's context${list.length ? ` (${list.join(', ')}${found.length > list.length ? ', …' : ''})` : ''}`;
}
