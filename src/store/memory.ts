import { sql, type Selectable } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { DB } from './db.js';
import type { MemoryFactRow } from './schema.js';
import { prepared } from './prepared.js';

/** One remembered fact. `id` is stable; what users see as `n` is its position in the list. */
export interface MemoryFact {
  id: number;
  text: string;
  sourceSeqs: number[];
  createdMs: number;
  updatedMs: number;
}

/** Whose memory: the owner (scope without thread, or `session:<id>`) and the character. */
export interface MemoryOwner {
  ownerKey: string;
  characterId: string;
}

/** How far extraction has read a conversation, and the story so far. */
export interface MemoryProgress {
  processedSeq: number;
  summary: string | null;
}

/** What an extraction learnt, by fact id, with the messages each fact came from, and how far it read. */
export interface LearntFacts {
  update: Array<{ id: number; text: string; sourceSeqs: number[] }>;
  remove: number[];
  add: Array<{ text: string; sourceSeqs: number[] }>;
  /** The cap, oldest facts deleted first past it. */
  maxFacts: number;
  processedSeq: number;
  /** The new summary, when the extraction wrote one. */
  summary?: string | null;
}

function toFact(r: Selectable<MemoryFactRow>): MemoryFact {
  return {
    id: Number(r.id),
    text: r.text,
    sourceSeqs: r.source_seqs ? (JSON.parse(r.source_seqs) as number[]) : [],
    createdMs: Number(r.created_ms),
    updatedMs: Number(r.updated_ms),
  };
}

// Read on every turn (the memory provider and the extraction check), compiled once.
const factsOf = prepared((db, p: { ownerKey: string; characterId: string }) =>
  db.selectFrom('memory_facts').selectAll().where('owner_key', '=', p.ownerKey).where('character_id', '=', p.characterId).orderBy('id'),
);
const recallFloorOf = prepared((db, p: { ownerKey: string; characterId: string }) =>
  db.selectFrom('memory_owners').select('recall_after_seq').where('owner_key', '=', p.ownerKey).where('character_id', '=', p.characterId),
);
const progressOf = prepared((db, p: { conversationId: string; characterId: string }) =>
  db.selectFrom('memory_progress').select(['processed_seq', 'summary']).where('conversation_id', '=', p.conversationId).where('character_id', '=', p.characterId),
);

/**
 * Long-term memory's rows: facts per (owner, character), the owner's recall floor, and per
 * conversation the extraction progress, rolling summary and the lease that keeps extraction to
 * one process at a time. Every query is plain Kysely, the same on SQLite and PostgreSQL.
 */
export class MemoryRepo {
  constructor(private db: DB, private clock: Clock) {}

  /** The facts, oldest first (the numbering users see). */
  async facts(o: MemoryOwner): Promise<MemoryFact[]> {
    const rows = await factsOf.rows(this.db, { ownerKey: o.ownerKey, characterId: o.characterId });
    return rows.map(toFact);
  }

  async addFact(o: MemoryOwner, text: string, sourceSeqs: number[] = []): Promise<MemoryFact> {
    const now = this.clock.now();
    const row = await this.db
      .insertInto('memory_facts')
      .values({
        owner_key: o.ownerKey,
        character_id: o.characterId,
        text,
        source_seqs: sourceSeqs.length ? JSON.stringify(sourceSeqs) : null,
        created_ms: now,
        updated_ms: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toFact(row);
  }

  /** Replace a fact's text (a fact that changed: "moved from Lyon to Oslo"); false when it is gone. */
  async updateFact(o: MemoryOwner, id: number, text: string, addSeqs: number[] = []): Promise<boolean> {
    const old = await this.db
      .selectFrom('memory_facts')
      .selectAll()
      .where('id', '=', id)
      .where('owner_key', '=', o.ownerKey)
      .where('character_id', '=', o.characterId)
      .executeTakeFirst();
    if (!old) return false;
    const seqs = [...new Set([...toFact(old).sourceSeqs, ...addSeqs])];
    const r = await this.db
      .updateTable('memory_facts')
      .set({ text, source_seqs: seqs.length ? JSON.stringify(seqs) : null, updated_ms: this.clock.now() })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Forget one fact: it is deleted and the messages it came from are never recalled again.
   * Returns the fact, or undefined when it was not the owner's.
   */
  async forgetFact(o: MemoryOwner, id: number): Promise<MemoryFact | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .deleteFrom('memory_facts')
        .where('id', '=', id)
        .where('owner_key', '=', o.ownerKey)
        .where('character_id', '=', o.characterId)
        .returningAll()
        .executeTakeFirst();
      if (!row) return undefined;
      const fact = toFact(row);
      if (fact.sourceSeqs.length) {
        const msgs = await tx.selectFrom('messages').select(['seq', 'conversation_id']).where('seq', 'in', fact.sourceSeqs).execute();
        for (const m of msgs) {
          await tx
            .insertInto('memory_forgotten')
            .values({ seq: Number(m.seq), conversation_id: m.conversation_id })
            .onConflict((oc) => oc.column('seq').doNothing())
            .execute();
        }
      }
      return fact;
    });
  }

  /** Delete facts that are no longer true (the extraction said so); their sources stay recallable. */
  async deleteFacts(o: MemoryOwner, ids: number[]): Promise<void> {
    if (!ids.length) return;
    await this.db
      .deleteFrom('memory_facts')
      .where('id', 'in', ids)
      .where('owner_key', '=', o.ownerKey)
      .where('character_id', '=', o.characterId)
      .execute();
  }

  /**
   * Where a character's turns in a conversation begin: the seq of the last reply before its first
   * one (0 when it spoke first), or undefined when it never replied there. Extraction for a
   * character new to a conversation starts there, not at the other characters' history.
   */
  async firstTurnStart(conversationId: string, characterId: string): Promise<number | undefined> {
    const first = await this.db
      .selectFrom('messages')
      .select('seq')
      .where('conversation_id', '=', conversationId)
      .where('role', '=', 'assistant')
      .where('author_id', '=', characterId)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    if (!first) return undefined;
    const before = await this.db
      .selectFrom('messages')
      .select('seq')
      .where('conversation_id', '=', conversationId)
      .where('role', '=', 'assistant')
      .where('seq', '<', first.seq)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return before ? Number(before.seq) : 0;
  }

  /** Delete facts over `max`, oldest first (a last resort when consolidation did not fit). */
  async trim(o: MemoryOwner, max: number): Promise<number> {
    const facts = await this.facts(o);
    const extra = facts.slice(0, Math.max(0, facts.length - max)).map((f) => f.id);
    if (!extra.length) return 0;
    await this.db.deleteFrom('memory_facts').where('id', 'in', extra).execute();
    return extra.length;
  }

  /**
   * `/memory clear`: every fact goes, every summary of the owner's conversations `conversationIds`
   * is emptied, and nothing up to `uptoSeq` is recalled again.
   */
  async clear(o: MemoryOwner, conversationIds: string[], uptoSeq: number): Promise<number> {
    const now = this.clock.now();
    return this.db.transaction().execute(async (tx) => {
      const r = await tx.deleteFrom('memory_facts').where('owner_key', '=', o.ownerKey).where('character_id', '=', o.characterId).executeTakeFirst();
      if (conversationIds.length) {
        await tx
          .updateTable('memory_progress')
          .set({ summary: null, updated_ms: now })
          .where('conversation_id', 'in', conversationIds)
          .where('character_id', '=', o.characterId)
          .execute();
      }
      await tx
        .insertInto('memory_owners')
        .values({ owner_key: o.ownerKey, character_id: o.characterId, recall_after_seq: uptoSeq, updated_ms: now })
        .onConflict((oc) => oc.columns(['owner_key', 'character_id']).doUpdateSet({ recall_after_seq: uptoSeq, updated_ms: now }))
        .execute();
      return Number(r.numDeletedRows);
    });
  }

  /** Messages at or below this seq are not recalled for the owner (0 when never cleared). */
  async recallFloor(o: MemoryOwner): Promise<number> {
    const r = await recallFloorOf.first(this.db, { ownerKey: o.ownerKey, characterId: o.characterId });
    return r ? Number(r.recall_after_seq) : 0;
  }

  /** Delete everything remembered for an owner, every character (its conversation was deleted). */
  async deleteOwner(ownerKey: string): Promise<void> {
    await this.db.deleteFrom('memory_facts').where('owner_key', '=', ownerKey).execute();
    await this.db.deleteFrom('memory_owners').where('owner_key', '=', ownerKey).execute();
  }

  async progress(conversationId: string, characterId: string): Promise<MemoryProgress> {
    const r = await progressOf.first(this.db, { conversationId, characterId });
    return { processedSeq: r ? Number(r.processed_seq) : 0, summary: r?.summary ?? null };
  }

  /**
   * Take the conversation's extraction lease for `owner` until `now + leaseMs`; false while
   * another holder's lease runs. One statement per engine, so two processes never both win.
   */
  async claim(conversationId: string, characterId: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.clock.now();
    await this.db
      .insertInto('memory_progress')
      .values({ conversation_id: conversationId, character_id: characterId, processed_seq: 0, summary: null, lease_owner: null, lease_until: null, updated_ms: now })
      .onConflict((oc) => oc.columns(['conversation_id', 'character_id']).doNothing())
      .execute();
    const r = await this.db
      .updateTable('memory_progress')
      .set({ lease_owner: owner, lease_until: now + leaseMs })
      .where('conversation_id', '=', conversationId)
      .where('character_id', '=', characterId)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now), eb('lease_owner', '=', owner)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Record what an extraction read (and the new summary, when it wrote one) and give the lease back; false when `owner` no longer held it. */
  async finish(conversationId: string, characterId: string, owner: string, done: { processedSeq: number; summary?: string | null }): Promise<boolean> {
    const r = await this.db
      .updateTable('memory_progress')
      .set({
        processed_seq: sql<number>`case when processed_seq > ${done.processedSeq} then processed_seq else ${done.processedSeq} end`,
        ...(done.summary !== undefined ? { summary: done.summary } : {}),
        lease_owner: null,
        lease_until: null,
        updated_ms: this.clock.now(),
      })
      .where('conversation_id', '=', conversationId)
      .where('character_id', '=', characterId)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * What one extraction learnt, written with its progress in one transaction (one commit, where
   * each fact was one): facts rewritten, removed and added, the cap applied, the messages marked
   * read and the lease given back. All of it or, when this process no longer holds the lease
   * (it lapsed and another took the conversation over), none of it: false.
   */
  async applyExtraction(o: MemoryOwner, lease: { conversationId: string; owner: string }, learnt: LearntFacts): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const repo = new MemoryRepo(tx, this.clock);
      const done = { processedSeq: learnt.processedSeq, ...(learnt.summary !== undefined ? { summary: learnt.summary } : {}) };
      if (!(await repo.finish(lease.conversationId, o.characterId, lease.owner, done))) return false;
      for (const u of learnt.update) await repo.updateFact(o, u.id, u.text, u.sourceSeqs);
      await repo.deleteFacts(o, learnt.remove);
      for (const a of learnt.add) await repo.addFact(o, a.text, a.sourceSeqs);
      await repo.trim(o, learnt.maxFacts);
      return true;
    });
  }

  /** Give the lease back without progress (the model could not be reached: try again later). */
  async release(conversationId: string, characterId: string, owner: string): Promise<void> {
    await this.db
      .updateTable('memory_progress')
      .set({ lease_owner: null, lease_until: null })
      .where('conversation_id', '=', conversationId)
      .where('character_id', '=', characterId)
      .where('lease_owner', '=', owner)
      .execute();
  }

  /** Set a conversation's summary (forgetting cuts sentences out of it). */
  async setSummary(conversationId: string, characterId: string, summary: string | null): Promise<void> {
    await this.db
      .updateTable('memory_progress')
      .set({ summary, updated_ms: this.clock.now() })
      .where('conversation_id', '=', conversationId)
      .where('character_id', '=', characterId)
      .execute();
  }
}
