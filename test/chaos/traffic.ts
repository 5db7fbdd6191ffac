/**
 * The chaos run's traffic: Telegram private chats and a few groups through the fake Bot API
 * (polled by the instance, some updates delivered twice) and async API turns from tenants (half with an
 * Idempotency-Key retried until answered). Every message carries a unique token; the fake model
 * answers `re: <token>`, so each reply names the one message it answers.
 */
import type { FakeTelegram, UserMessageInput } from '../fakes/telegram.js';

/** A small seeded generator (mulberry32): the same seed gives the same traffic and kill times. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ApiTurn {
  token: string;
  key: string;
  characterId: string;
  /** Its message asks the fake model to fail: its answer is one `error` entry on the feed, and it costs nothing. */
  fails: boolean;
  idempotencyKey?: string;
  /** 202 received: the service promised an answer on the feed. */
  accepted: boolean;
  sessionId?: string;
  /** What each attempt got: a status, or the connection error's code. */
  attempts: string[];
}

export interface TelegramTurn {
  token: string;
  chatId: number;
  updateId: number;
  /** When the user sent it (ms since the epoch). */
  at: number;
}

/** Groups the run also talks in, mentioning the bot: a share of Telegram's messages. */
export const TELEGRAM_GROUPS = 4;
// Few: a group's replies take turns at 20 a minute, and every kill sets its line back.
const GROUP_SHARE = 0.02;
/**
 * Marks a group's message: the run's model answers it at length and slowly, so the reply shows
 * as a preview edited for seconds, and a kill meanwhile leaves a preview the next attempt must
 * edit, not show again beside the reply.
 */
export const IN_A_GROUP = '(in a group)';

/** Message `i`: a private chat's (one of `chats`), or now and then a group's. */
function telegramMessage(fake: FakeTelegram, rnd: () => number, i: number, chats: number): { token: string; chatId: number; input: UserMessageInput } {
  const token = `tg${i}`;
  if (rnd() < GROUP_SHARE) {
    const chatId = -1005000 - Math.floor(rnd() * TELEGRAM_GROUPS);
    const from = { id: 5000 + Math.floor(rnd() * chats) };
    return { token, chatId, input: { chat: { id: chatId, type: 'supergroup', title: `chaos group ${-chatId}` }, from, text: `@${fake.bot.username} message ${token} ${IN_A_GROUP}` } };
  }
  const chatId = 5000 + Math.floor(rnd() * chats);
  return { token, chatId, input: { chat: { id: chatId, type: 'private' }, from: { id: chatId }, text: `message ${token}` } };
}

export function sendTelegram(fake: FakeTelegram, rnd: () => number, i: number, chats: number): TelegramTurn {
  const { token, chatId, input } = telegramMessage(fake, rnd, i, chats);
  const u = fake.userMessage({ ...input, duplicate: rnd() < 0.1 });
  return { token, chatId, updateId: u.update_id, at: Date.now() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** In a message, asks the chaos run's fake model to answer 500 (see `sendApi`'s `fails`). */
export const ASKS_TO_FAIL = '(asks to fail)';

/**
 * Telegram in webhook mode, played the way Telegram delivers: each chat's updates in order, each
 * POSTed to the webhook the bot set until it answers 2xx (through restarts; before the first
 * setWebhook too), some delivered a second time after that. `accepted` once a 2xx came back.
 */
export class WebhookDelivery {
  private readonly lines = new Map<number, Promise<void>>();

  constructor(private readonly fake: FakeTelegram, private readonly giveUpMs = 180_000) {}

  send(rnd: () => number, i: number, chats: number): TelegramTurn & { accepted: boolean } {
    const { token, chatId, input } = telegramMessage(this.fake, rnd, i, chats);
    const update = this.fake.buildUserMessage(input);
    const twice = rnd() < 0.1;
    const turn = { token, chatId, updateId: update.update_id as number, at: Date.now(), accepted: false };
    const line = (this.lines.get(chatId) ?? Promise.resolve()).then(async () => {
      turn.accepted = await this.untilAccepted(update);
      if (turn.accepted && twice) await this.untilAccepted(update);
    });
    this.lines.set(chatId, line);
    return turn;
  }

  /** Deliver one more update in its chat's line, after the chat's earlier ones; true once accepted. */
  post(chatId: number, update: object): Promise<boolean> {
    let accepted = false;
    const line = (this.lines.get(chatId) ?? Promise.resolve()).then(async () => {
      accepted = await this.untilAccepted(update);
    });
    this.lines.set(chatId, line);
    return line.then(() => accepted);
  }

  /** Resolves once every chat's line has finished delivering. */
  async drain(): Promise<void> {
    await Promise.all(this.lines.values());
  }

  private async untilAccepted(update: object): Promise<boolean> {
    const deadline = Date.now() + this.giveUpMs;
    while (Date.now() < deadline) {
      const status = await this.fake.deliver(update).then((r) => r.status, () => 0);
      if (status >= 200 && status < 300) return true;
      await sleep(300);
    }
    return false;
  }
}

/**
 * One async API turn. With an Idempotency-Key the client retries through restarts until it gets
 * an answer; without one it retries only what never reached the server (connection refused) or
 * was refused before it was recorded (409), as a client that reads the API's errors would.
 */
/** `characterId`: who answers (with `--proactive`, one that never reaches out on its own, as the other chats have). */
/** One try at API turn `turn`'s request, exactly as its client sends it every time. */
function postApi(url: () => string, turn: ApiTurn): Promise<Response> {
  return fetch(`${url()}/api/v1/chat`, {
    method: 'POST',
    headers: { 'x-api-key': turn.key, 'content-type': 'application/json', ...(turn.idempotencyKey ? { 'idempotency-key': turn.idempotencyKey } : {}) },
    body: JSON.stringify({ characterId: turn.characterId, message: `message ${turn.token}${turn.fails ? ` ${ASKS_TO_FAIL}` : ''}`, mode: 'async' }),
    signal: AbortSignal.timeout(20_000),
  });
}

/** The request of a turn sent with an Idempotency-Key, sent once more: its status and the session it names. */
export async function repeatApi(url: () => string, turn: ApiTurn): Promise<{ status: number; sessionId?: string }> {
  const res = await postApi(url, turn);
  const body = (await res.json().catch(() => null)) as { sessionId?: string } | null;
  return { status: res.status, ...(body?.sessionId ? { sessionId: body.sessionId } : {}) };
}

export async function sendApi(url: () => string, key: string, token: string, opts: { withKey: boolean; characterId?: string; fails?: boolean; giveUpMs?: number }): Promise<ApiTurn> {
  const { withKey, characterId = 'aria', fails = false, giveUpMs = 180_000 } = opts;
  const turn: ApiTurn = { token, key, characterId, fails, accepted: false, attempts: [], ...(withKey ? { idempotencyKey: `idem-${token}` } : {}) };
  const deadline = Date.now() + giveUpMs;
  while (Date.now() < deadline) {
    try {
      const res = await postApi(url, turn);
      const body = (await res.json().catch(() => null)) as { sessionId?: string } | null;
      turn.attempts.push(String(res.status));
      if (res.status === 202) {
        turn.accepted = true;
        if (body?.sessionId) turn.sessionId = body.sessionId;
        return turn;
      }
      // A 5xx may have come after the turn was recorded (the API says: retry with an
      // Idempotency-Key); only a request that carries one can be sent again without risking two turns.
      if (res.status === 409 || (res.status >= 500 && turn.idempotencyKey)) {
        await sleep(500);
        continue;
      }
      return turn; // refused (402, 429…): nothing was promised
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      turn.attempts.push(code ?? 'error');
      const refused = code === 'ECONNREFUSED';
      if (!refused && !turn.idempotencyKey) return turn; // it may or may not have arrived: no promise we can check
      await sleep(300);
    }
  }
  return turn;
}
