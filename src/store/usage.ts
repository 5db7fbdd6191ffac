import type { Clock } from '../core/clock.js';
import type { DB } from './db.js';

export interface UsageTotals {
  turns: number;
  promptTokens: number;
  completionTokens: number;
  credits: number;
}

/** One row per successful model turn: tokens and credits, by conversation and API key. */
export class UsageRepo {
  constructor(private db: DB, private clock: Clock) {}

  async record(u: { conversationId: string; characterId: string; apiKeyId?: string | null; promptTokens: number; completionTokens: number; credits?: number }): Promise<void> {
    await this.db
      .insertInto('usage')
      .values({
        conversation_id: u.conversationId,
        character_id: u.characterId,
        api_key_id: u.apiKeyId ?? null,
        prompt_tokens: u.promptTokens,
        completion_tokens: u.completionTokens,
        credits: u.credits ?? 0,
        created_at: new Date(this.clock.now()).toISOString(),
      })
      .execute();
  }

  async forConversation(conversationId: string): Promise<UsageTotals> {
    const r = await this.db
      .selectFrom('usage')
      .select((eb) => [
        eb.fn.countAll<number>().as('turns'),
        eb.fn.coalesce(eb.fn.sum<number>('prompt_tokens'), eb.val(0)).as('p'),
        eb.fn.coalesce(eb.fn.sum<number>('completion_tokens'), eb.val(0)).as('c'),
        eb.fn.coalesce(eb.fn.sum<number>('credits'), eb.val(0)).as('cr'),
      ])
      .where('conversation_id', '=', conversationId)
      .executeTakeFirstOrThrow();
    return { turns: Number(r.turns), promptTokens: Number(r.p), completionTokens: Number(r.c), credits: Number(r.cr) };
  }
}
