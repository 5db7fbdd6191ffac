/**
 * Proactive messages under kills (`npm run chaos -- --proactive N`): N Telegram private chats
 * switch to a character that may reach out, say hello once and then fall silent, so the scheduler
 * (ticking every 2 s, a minute of silence and a minute between messages, three a chat) reaches
 * out to them while instances are killed. Every other chat keeps a character that may not, so
 * only these chats get proactive messages. The fake model numbers each proactive message it
 * writes (`reach out <n>`), so a message shown twice is told from two messages.
 *
 * The check, against what the outbox recorded: no message shown twice; every one recorded
 * `delivered` shown; none left in a working state (`generating`, `pending`, `claimed`, `sending`)
 * once its instance is gone: a killed instance's generations are taken over within seconds too.
 * `uncertain` rows (a Telegram send its process died in) are counted, not failed: that is the
 * documented behaviour.
 */
import { sql, type Kysely } from 'kysely';
import type { FakeTelegram } from '../fakes/telegram.js';

const FIRST_CHAT = 9000;
const PROACTIVE_TEXT = /reach out (\d+)/;

export interface ProactiveFindings {
  /** Proactive messages shown in the chats. */
  shown: number;
  duplicated: string[];
  /** Recorded delivered, never shown. */
  lost: string[];
  /** Rows (of any platform) still generating, pending, claimed or sending, untouched for `settledMs`. */
  stuck: number;
  uncertain: number;
  /** Of the uncertain ones, shown all the same (their send had gone out). */
  uncertainShown: number;
  /** Outbox rows by state. */
  states: Record<string, number>;
}

export class ProactiveChats {
  /** The character every other chat and API session talks to: it may not reach out. */
  static readonly quietCharacter = 'juniper';
  private written = 0;

  constructor(
    private readonly fake: FakeTelegram,
    private readonly chats: number,
  ) {}

  /** The instances' settings: a character that may not reach out by default, and a fast proactive schedule. */
  static env(): Record<string, string> {
    return {
      DEFAULT_CHARACTER: ProactiveChats.quietCharacter,
      PROACTIVE_CRON: '*/2 * * * * *',
      PROACTIVE_MIN_IDLE_MINUTES: '1',
      PROACTIVE_MIN_GAP_MINUTES: '1',
      PROACTIVE_DAILY_CAP: '3',
      PROACTIVE_MAX_UNANSWERED: '3',
    };
  }

  /** The fake model's answer to a proactive request (undefined for any other). */
  respond(messages: unknown): string | undefined {
    return JSON.stringify(messages).includes('[proactive]') ? `reach out ${++this.written}` : undefined;
  }

  /**
   * Each chat switches to Aria (who may reach out) and says hello, in that order: queued for
   * getUpdates, or handed to `post` in webhook mode, where the run plays Telegram's deliveries.
   */
  open(post?: (chatId: number, update: object) => unknown): void {
    for (let n = 0; n < this.chats; n++) {
      const chat = { chat: { id: FIRST_CHAT + n, type: 'private' as const }, from: { id: FIRST_CHAT + n } };
      for (const text of ['/character Aria', 'hello there']) {
        if (post) void post(FIRST_CHAT + n, this.fake.buildUserMessage({ ...chat, text }));
        else this.fake.userMessage({ ...chat, text });
      }
    }
  }

  async findings(db: Kysely<any>, settledMs = 30_000): Promise<ProactiveFindings> {
    const seen = new Map<string, number>();
    for (let n = 0; n < this.chats; n++) {
      for (const m of this.fake.botMessages(FIRST_CHAT + n)) {
        const k = PROACTIVE_TEXT.exec(m.text)?.[0];
        if (k) seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    }
    const all = (await sql<{ platform: string; state: string; updated_at: number | string; content: string | null }>`
      select c.platform, o.state, o.updated_at, m.content from proactive_outbox o
      join conversations c on c.id = o.conversation_id left join messages m on m.id = o.message_id`.execute(db)).rows;
    // Anything outside these Telegram chats (none expected: the others talk to a character that may not reach out) is listed by platform.
    const states: Record<string, number> = {};
    const label = (r: { platform: string; state: string }) => (r.platform === 'telegram' ? r.state : `${r.platform} ${r.state}`);
    for (const r of all) states[label(r)] = (states[label(r)] ?? 0) + 1;
    const rows = all.filter((r) => r.platform === 'telegram');
    const textOf = (r: { content: string | null }) => PROACTIVE_TEXT.exec(r.content ?? '')?.[0];
    const old = Date.now() - settledMs;
    const uncertain = rows.filter((r) => r.state === 'uncertain');
    return {
      shown: [...seen.values()].reduce((a, b) => a + b, 0),
      duplicated: [...seen].filter(([, k]) => k > 1).map(([t]) => t),
      lost: rows.filter((r) => r.state === 'delivered' && !seen.has(textOf(r) ?? '')).map((r) => textOf(r) ?? String(r.content)),
      // Of every platform's: API sessions (webhook-sessions.ts) are reached out to as well.
      stuck: all.filter((r) => ['generating', 'pending', 'claimed', 'sending'].includes(r.state) && Number(r.updated_at) < old).length,
      uncertain: uncertain.length,
      uncertainShown: uncertain.filter((r) => seen.has(textOf(r) ?? '')).length,
      states,
    };
  }
}
