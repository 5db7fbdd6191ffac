import { PLATFORMS } from '../core/types.js';
import type { DB } from './db.js';

/** A proactive message attempt, as the operator's platform page lists it. */
export interface ProactiveSend {
  id: number;
  conversationId: string;
  platform: string | null;
  characterId: string | null;
  /** generating, pending, claimed, sending, delivered, failed, uncertain, nothing, abandoned, skipped, error (see the outbox). */
  state: string;
  attempts: number;
  error: string | null;
  forced: boolean;
  /** Epoch ms of the last change. */
  updatedAt: number;
}

/**
 * Read-only summaries for the operator (GET /api/v1/platforms): when each platform last sent us
 * an event, and what the proactive scheduler did lately. Nothing here is on a hot path.
 */
export class ActivityRepo {
  constructor(private db: DB) {}

  /**
   * Epoch ms of the newest claimed event per platform (events are kept about two days): one
   * index probe per platform (migration 051), where a grouped max read every event.
   */
  async lastEventAt(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const platform of PLATFORMS) {
      const r = await this.db
        .selectFrom('processed_events')
        .select((eb) => eb.fn.max('claimed_at').as('at'))
        .where('platform', '=', platform)
        .executeTakeFirst();
      if (r?.at !== null && r?.at !== undefined) out.set(platform, Number(r.at));
    }
    return out;
  }

  /** The newest proactive attempts, newest first, with their conversation's platform. */
  async recentProactive(limit: number): Promise<ProactiveSend[]> {
    const rows = await this.db
      .selectFrom('proactive_outbox as o')
      .leftJoin('conversations as c', 'c.id', 'o.conversation_id')
      .select(['o.id', 'o.conversation_id', 'c.platform', 'c.character_id', 'o.state', 'o.attempts', 'o.error', 'o.forced', 'o.updated_at'])
      .orderBy('o.updated_at', 'desc')
      .orderBy('o.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      conversationId: r.conversation_id,
      platform: r.platform,
      characterId: r.character_id,
      state: r.state,
      attempts: Number(r.attempts),
      error: r.error,
      forced: Number(r.forced) === 1,
      updatedAt: Number(r.updated_at),
    }));
  }

  /** When the next conversation becomes due for a proactive message, and how many are scheduled. */
  async proactiveSchedule(): Promise<{ nextDueAt: number | null; scheduled: number }> {
    const r = await this.db
      .selectFrom('conversations')
      .select((eb) => [eb.fn.min('proactive_next_at').as('next'), eb.fn.countAll<number>().as('n')])
      .where('proactive_next_at', 'is not', null)
      .executeTakeFirstOrThrow();
    return { nextDueAt: r.next === null || r.next === undefined ? null : Number(r.next), scheduled: Number(r.n) };
  }
}
