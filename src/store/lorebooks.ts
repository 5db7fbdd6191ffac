import type { Clock } from '../core/clock.js';
import { ConflictError, QuotaExceededError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { DB } from './db.js';
import { LockSpace, type SqlDialect } from './dialect.js';
import type { LorebookRow } from './schema.js';
import { prepared } from './prepared.js';
import { writeNewVersion } from './versions.js';

type Targets = { kinds: readonly string[]; ids: readonly string[] };

/** Books linked to any of the targets (`kinds[i]`, `ids[i]`), the earliest link first. */
function linkedTo(db: DB, p: Targets) {
  return db
    .selectFrom('lorebook_links')
    .innerJoin('lorebooks', 'lorebooks.id', 'lorebook_links.lorebook_id')
    .where((eb) => eb.or(p.ids.map((id, i) => eb.and([eb('lorebook_links.target_kind', '=', p.kinds[i]!), eb('lorebook_links.target_id', '=', id)]))))
    .orderBy('lorebook_links.created_at')
    .orderBy('lorebooks.id');
}

const attachedToAny = prepared((db, p: Targets) => linkedTo(db, p).selectAll('lorebooks'));
/** Only what tells each book's version: every turn lists its books so, and reads one only at a version not parsed yet. */
const versionsAttachedToAny = prepared((db, p: Targets) => linkedTo(db, p).select(['lorebooks.id', 'lorebooks.owner_id', 'lorebooks.name', 'lorebooks.updated_at']));

/** An attached lorebook as a turn lists it: enough to tell whether its parsed book is current. */
export interface AttachedLorebook {
  id: string;
  ownerId: string;
  name: string;
  updatedAt: string;
}

/**
 * The most lorebooks one conversation, or one character, may have attached. Every turn reads and
 * scans all of a turn's books; SillyTavern users attach a handful.
 */
export const MAX_LOREBOOKS_PER_TARGET = 10;

/** A stored lorebook; `book` is the normalized LoreBook as JSON text (src/lore owns its shape). */
export interface LorebookRecord {
  id: string;
  /** The API key id that owns it, or 'admin'. */
  ownerId: string;
  name: string;
  description: string | null;
  book: string;
  createdAt: string;
  updatedAt: string;
}

/** What a lorebook is attached to: a character (all its conversations) or one conversation. */
export type LoreTargetKind = 'character' | 'conversation';
export interface LoreTarget {
  kind: LoreTargetKind;
  id: string;
}

/** The last turn's activation report of a conversation, as JSON text. */
export interface LoreActivityRecord {
  report: string;
  updatedAt: string;
}

const toRecord = (r: LorebookRow): LorebookRecord => ({
  id: r.id,
  ownerId: r.owner_id,
  name: r.name,
  description: r.description,
  book: r.book_json,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Lorebooks, their attachments, and what fired on each conversation's last turn. */
export class LorebookRepo {
  constructor(
    private db: DB,
    private clock: Clock,
    private dialect: SqlDialect,
  ) {}

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /**
   * `maxOwned`: the owner's quota, counted under a per-owner lock with the insert, so any number
   * of concurrent creates leave at most that many (else a QuotaExceededError).
   */
  async create(ownerId: string, input: { name: string; description: string | null; book: string }, opts: { maxOwned?: number } = {}): Promise<LorebookRecord> {
    const now = this.now();
    const row: LorebookRow = { id: newId('lore'), owner_id: ownerId, name: input.name, description: input.description, book_json: input.book, created_at: now, updated_at: now };
    const max = opts.maxOwned;
    await this.db.transaction().execute(async (tx) => {
      if (max !== undefined) {
        await this.dialect.lock(tx, LockSpace.lorebookOwner, ownerId);
        const owned = await tx.selectFrom('lorebooks').select((eb) => eb.fn.countAll<number>().as('n')).where('owner_id', '=', ownerId).executeTakeFirstOrThrow();
        if (Number(owned.n) >= max) throw new QuotaExceededError('lorebooks', max);
      }
      await tx.insertInto('lorebooks').values(row).execute();
    });
    return toRecord(row);
  }

  async get(id: string): Promise<LorebookRecord | undefined> {
    const r = await this.db.selectFrom('lorebooks').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toRecord(r);
  }

  /** One page of an owner's lorebooks by name (every owner's for `ownerId` null), with the total. */
  async list(ownerId: string | null, page: number, limit: number): Promise<{ lorebooks: LorebookRecord[]; total: number }> {
    let base = this.db.selectFrom('lorebooks');
    if (ownerId !== null) base = base.where('owner_id', '=', ownerId);
    const count = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base.selectAll().orderBy('name').orderBy('id').limit(limit).offset((page - 1) * limit).execute();
    return { lorebooks: rows.map(toRecord), total: Number(count.n) };
  }

  /** An owner's lorebook by exact name (the newest when names repeat), for chat commands. */
  async findByName(ownerId: string, name: string): Promise<LorebookRecord | undefined> {
    const r = await this.db
      .selectFrom('lorebooks')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where('name', '=', name)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    return r && toRecord(r);
  }

  async update(id: string, patch: Partial<{ name: string; description: string | null; book: string }>): Promise<LorebookRecord | undefined> {
    const set: Partial<LorebookRow> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.book !== undefined) set.book_json = patch.book;
    await writeNewVersion(this.db, 'lorebooks', id, this.clock.now(), set);
    return this.get(id);
  }

  /** Delete a lorebook and every attachment of it. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('lorebook_links').where('lorebook_id', '=', id).execute();
      const r = await tx.deleteFrom('lorebooks').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /** Attach (again: nothing changes); past MAX_LOREBOOKS_PER_TARGET, a 409 TOO_MANY_LOREBOOKS, counted under a per-target lock. */
  async attach(lorebookId: string, target: LoreTarget): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await this.dialect.lock(tx, LockSpace.lorebookTarget, `${target.kind}:${target.id}`);
      const links = await tx
        .selectFrom('lorebook_links')
        .select('lorebook_id')
        .where('target_kind', '=', target.kind)
        .where('target_id', '=', target.id)
        .execute();
      if (links.some((l) => l.lorebook_id === lorebookId)) return;
      if (links.length >= MAX_LOREBOOKS_PER_TARGET) {
        throw new ConflictError(`This ${target.kind} already has ${MAX_LOREBOOKS_PER_TARGET} lorebooks attached, the most it may have; detach one first`, 'TOO_MANY_LOREBOOKS');
      }
      await tx
        .insertInto('lorebook_links')
        .values({ lorebook_id: lorebookId, target_kind: target.kind, target_id: target.id, created_at: this.now() })
        .onConflict((oc) => oc.columns(['lorebook_id', 'target_kind', 'target_id']).doNothing())
        .execute();
    });
  }

  /** Detach; false when it was not attached. */
  async detach(lorebookId: string, target: LoreTarget): Promise<boolean> {
    const r = await this.db
      .deleteFrom('lorebook_links')
      .where('lorebook_id', '=', lorebookId)
      .where('target_kind', '=', target.kind)
      .where('target_id', '=', target.id)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** The lorebooks attached to any of `targets`, each once, in the order they were attached. */
  async attachedTo(targets: readonly LoreTarget[]): Promise<LorebookRecord[]> {
    if (!targets.length) return [];
    const rows = await attachedToAny.rows(this.db, { kinds: targets.map((t) => t.kind), ids: targets.map((t) => t.id) });
    const seen = new Set<string>();
    return rows.filter((r) => !seen.has(r.id) && seen.add(r.id)).map(toRecord);
  }

  /** What `attachedTo` lists, without the books themselves. */
  async attachedVersions(targets: readonly LoreTarget[]): Promise<AttachedLorebook[]> {
    if (!targets.length) return [];
    const rows = await versionsAttachedToAny.rows(this.db, { kinds: targets.map((t) => t.kind), ids: targets.map((t) => t.id) });
    const seen = new Set<string>();
    return rows.filter((r) => !seen.has(r.id) && seen.add(r.id)).map((r) => ({ id: r.id, ownerId: r.owner_id, name: r.name, updatedAt: r.updated_at }));
  }

  async saveActivity(conversationId: string, report: string): Promise<void> {
    const now = this.now();
    await this.db
      .insertInto('lore_activity')
      .values({ conversation_id: conversationId, report_json: report, updated_at: now })
      .onConflict((oc) => oc.column('conversation_id').doUpdateSet({ report_json: report, updated_at: now }))
      .execute();
  }

  async activity(conversationId: string): Promise<LoreActivityRecord | undefined> {
    const r = await this.db.selectFrom('lore_activity').select(['report_json', 'updated_at']).where('conversation_id', '=', conversationId).executeTakeFirst();
    return r && { report: r.report_json, updatedAt: r.updated_at };
  }
}
