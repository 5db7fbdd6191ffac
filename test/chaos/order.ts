/**
 * Replies out of order in one chat: a message's first reply shown before the first reply to an
 * earlier message of the same chat. Counted for every platform the chaos run drives, not judged:
 * a broken promise is a message lost or shown twice, while order is kept only as far as the chat
 * line can keep it (see the README on Redis losing its data).
 */

/** One message of a chat, in arrival order: `shown` is when (or where, in the chat's own posting order) its first reply showed. */
export interface Answered {
  token: string;
  shown: number;
}

/** Each reply shown before an earlier message's of its chat, with those earlier messages. */
export interface Overtake<T extends Answered = Answered> {
  chat: string;
  by: T;
  earlier: T[];
}

/** `chats`: each chat's answered messages in the order they arrived. */
export function overtakesIn<T extends Answered>(chats: ReadonlyMap<string, readonly T[]>): Array<Overtake<T>> {
  const found: Array<Overtake<T>> = [];
  for (const [chat, messages] of chats) {
    messages.forEach((m, i) => {
      const earlier = messages.slice(0, i).filter((e) => e.shown > m.shown);
      if (earlier.length) found.push({ chat, by: m, earlier });
    });
  }
  return found;
}

/** `n replies out of order, overtaking k messages (tokens…)`, for the run's summary. */
export function describeOvertakes(found: readonly Overtake[]): string {
  const overtaken = [...new Set(found.flatMap((o) => o.earlier.map((e) => e.token)))];
  const list = found.slice(0, 8).map((o) => `${o.by.token} before ${o.earlier.map((e) => e.token).join('/')} in ${o.chat}`);
  return `${found.length} replies shown before an earlier message's of their chat, overtaking ${overtaken.length} messages${list.length ? ` (${list.join(', ')}${found.length > list.length ? ', …' : ''})` : ''}`;
}
