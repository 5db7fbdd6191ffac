/**
 * Closed-loop load on a Telegram bot through the fake Bot API: every chat sends its next message
 * (delivered to the bot's webhook) as soon as the reply to the previous one has landed — the
 * whole reply visible in the chat — so a slow reply slows that chat's user, as it would a person.
 * The model's reply names the turn (`c<chat>t<turn>`), which is how a landed reply is matched.
 */
import type { FakeTelegram, RecordedCall } from '../fakes/telegram.js';

/** The fake model's reply to a message carrying `tag`: 40 words, so 40 streamed chunks. */
export function replyFor(tag: string): string {
  return [tag, ...Array.from({ length: 39 }, (_, i) => `w${i + 1}`)].join(' ');
}

/** The turn tag in a user message (the bot may wrap the user's text: names, quoting). */
export function tagIn(text: string): string | undefined {
  return /c\d+t\d+/.exec(text)?.[0];
}

export interface LoadOptions {
  chats: number;
  turns: number;
  /** A turn whose reply has not landed by then counts as failed; the chat moves on. */
  turnTimeoutMs: number;
  /** Private chat ids are `firstChatId + i`. */
  firstChatId: number;
}

export interface LoadResult {
  issued: number;
  ok: number;
  /** Per landed turn, ms from delivering the update to the reply landing. */
  latencies: number[];
  /**
   * Every turn: chat index, turn index, ms after the run started, latency (undefined: never
   * landed), and when the bot's first call for it arrived (its typing indicator, if it sends one).
   */
  turns: Array<{ chat: number; turn: number; startMs: number; latencyMs: number | undefined; firstCallMs: number | undefined }>;
  /** Mean latency per chat (chats with at least one landed turn). */
  chatMeans: number[];
  wallMs: number;
  /** Outbound Bot API calls made during the run, refused ones included, by method. */
  calls: Record<string, number>;
  /** Of those, the ones the bot put in a webhook answer's body (no request of its own). */
  inWebhookAnswers: number;
  tooManyRequests: number;
  webhookFailures: number;
  /** Why deliveries were refused (status and body, or the connection error), each reason once. */
  refusals?: string[];
}

const OUTBOUND = new Set(['sendMessage', 'editMessageText', 'sendMessageDraft', 'sendChatAction', 'sendPhoto', 'deleteMessage']);
const SHOWS_TEXT = new Set(['sendMessage', 'editMessageText']);

export async function runClosedLoop(fake: FakeTelegram, o: LoadOptions): Promise<LoadResult> {
  const waiting = new Map<number, { expected: string; landed: () => void; firstCallAt?: number }>();
  const calls: Record<string, number> = {};
  const unsubscribe = fake.onCall((c: RecordedCall) => {
    if (!OUTBOUND.has(c.method)) return;
    calls[c.method] = (calls[c.method] ?? 0) + 1;
    if (c.viaWebhookReply) result.inWebhookAnswers++;
    const chatId = Number(c.params.chat_id);
    const w = waiting.get(chatId);
    if (w) w.firstCallAt ??= performance.now();
    if (!c.ok || !SHOWS_TEXT.has(c.method)) return;
    if (w && String(c.params.text ?? '').includes(w.expected)) {
      waiting.delete(chatId);
      w.landed();
    }
  });
  const result: LoadResult = { issued: 0, ok: 0, latencies: [], turns: [], chatMeans: [], wallMs: 0, calls, inWebhookAnswers: 0, tooManyRequests: 0, webhookFailures: 0 };
  const refusedBefore = fake.tooManyRequests;
  const t0 = performance.now();

  const oneTurn = async (chatId: number, tag: string): Promise<{ ms: number | undefined; firstCallMs: number | undefined }> => {
    let timer: NodeJS.Timeout | undefined;
    const w: { expected: string; landed: () => void; firstCallAt?: number } = { expected: replyFor(tag), landed: () => undefined };
    const landed = new Promise<boolean>((resolve) => {
      w.landed = () => resolve(true);
      waiting.set(chatId, w);
      timer = setTimeout(() => resolve(false), o.turnTimeoutMs);
    });
    const update = fake.buildUserMessage({ chat: { id: chatId, type: 'private' }, from: { id: chatId, first_name: `User ${chatId}` }, text: `hello ${tag}` });
    const start = performance.now();
    result.issued++;
    const answer = await fake.deliver(update).catch((err: unknown) => ({ status: 0, body: String(err) }));
    if (answer.status !== 200) {
      result.webhookFailures++;
      const why = `${answer.status || 'no response'}: ${answer.body.slice(0, 160)}`;
      if (!(result.refusals ??= []).includes(why)) result.refusals.push(why);
      waiting.delete(chatId);
      clearTimeout(timer);
      return { ms: undefined, firstCallMs: undefined };
    }
    const ok = await landed;
    clearTimeout(timer);
    waiting.delete(chatId);
    const firstCallMs = w.firstCallAt === undefined ? undefined : w.firstCallAt - start;
    return { ms: ok ? performance.now() - start : undefined, firstCallMs };
  };

  await Promise.all(
    Array.from({ length: o.chats }, async (_, c) => {
      const chatId = o.firstChatId + c;
      const mine: number[] = [];
      for (let t = 0; t < o.turns; t++) {
        const startMs = performance.now() - t0;
        const { ms, firstCallMs } = await oneTurn(chatId, `c${c}t${t}`);
        result.turns.push({ chat: c, turn: t, startMs, latencyMs: ms, firstCallMs });
        if (ms !== undefined) mine.push(ms);
      }
      result.latencies.push(...mine);
      if (mine.length) result.chatMeans.push(mine.reduce((a, b) => a + b, 0) / mine.length);
    }),
  );
  result.wallMs = performance.now() - t0;
  result.ok = result.latencies.length;
  result.tooManyRequests = fake.tooManyRequests - refusedBefore;
  unsubscribe();
  return result;
}
