import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import type { DB } from './db.js';
import { chunks, type SqlDialect } from './dialect.js';
import type { ApiKeyRow } from './schema.js';
import { prepared } from './prepared.js';

// Every API request authenticates, and every paid turn reserves: compiled once (see prepared.ts).
const keyById = prepared((db, p: { id: string }) => db.selectFrom('api_keys').selectAll().where('id', '=', p.id));
const keyByHash = prepared((db, p: { hash: string }) => db.selectFrom('api_keys').selectAll().where('key_hash', '=', p.hash));
const reserve = prepared((db, p: { id: string; n: number }) =>
  db
    .updateTable('api_keys')
    .set({ credits_used: sql<number>`credits_used + ${p.n}` })
    .where('id', '=', p.id)
    .where((eb) => eb.or([eb('credits', 'is', null), eb(sql<number>`credits_used + ${p.n}`, '<=', eb.ref('credits'))])),
);

/** An API key as the rest of the code sees it; the secret itself is never stored. */
export interface ApiKey {
  id: string;
  name: string;
  /** The first characters of the key (`cb_AbC…`), so an operator can tell keys apart. */
  keyPrefix: string;
  /** Credit allowance; null means unlimited. */
  credits: number | null;
  creditsUsed: number;
  webhookUrl: string | null;
  webhookSecret: string | null;
  webhookDisabled: boolean;
  webhookFailures: number;
  disabled: boolean;
  defaultCharacterId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ApiKeyPatch {
  name?: string;
  credits?: number | null;
  webhookUrl?: string | null;
  webhookSecret?: string | null;
  webhookDisabled?: boolean;
  disabled?: boolean;
  /** The character the user/group chat API's `preset: "default"` means for this key; null → the global default. */
  defaultCharacterId?: string | null;
}

/** SHA-256 hex of a key: what the table stores and what a lookup compares. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A fresh key: `cb_` + 32 random bytes in base64url (256 bits, never guessable). */
export function generateApiKey(): string {
  return `cb_${randomBytes(32).toString('base64url')}`;
}

function toApiKey(r: ApiKeyRow): ApiKey {
  return {
    id: r.id,
    name: r.name,
    keyPrefix: r.key_prefix,
    credits: r.credits,
    creditsUsed: r.credits_used,
    webhookUrl: r.webhook_url,
    webhookSecret: r.webhook_secret,
    webhookDisabled: r.webhook_disabled === 1,
    webhookFailures: r.webhook_failures,
    disabled: r.disabled === 1,
    defaultCharacterId: r.default_character_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * API keys (tenants). Keys are shown once at creation and stored only as SHA-256 hashes, so a
 * leaked database does not leak usable keys. Credits are reserved atomically before a turn and
 * released if it fails, so concurrent requests can never overdraw a key.
 */
export class ApiKeyRepo {
  constructor(private db: DB, private clock: Clock, private dialect: SqlDialect) {}

  /** Create a key; the returned `key` is the only time the secret exists outside the caller. */
  async create(input: { name: string; credits?: number | null; webhookUrl?: string | null; webhookSecret?: string | null }): Promise<{ apiKey: ApiKey; key: string }> {
    const key = generateApiKey();
    const now = new Date(this.clock.now()).toISOString();
    const row: ApiKeyRow = {
      id: newId('key'),
      name: input.name,
      key_hash: hashApiKey(key),
      key_prefix: key.slice(0, 10),
      credits: input.credits ?? null,
      credits_used: 0,
      webhook_url: input.webhookUrl ?? null,
      webhook_secret: input.webhookSecret ?? null,
      webhook_disabled: 0,
      webhook_failures: 0,
      disabled: 0,
      default_character_id: null,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('api_keys').values(row).execute();
    return { apiKey: toApiKey(row), key };
  }

  async get(id: string): Promise<ApiKey | undefined> {
    const r = await keyById.first(this.db, { id });
    return r && toApiKey(r);
  }

  /** Look a presented key up by its hash (the unique index makes this one probe). */
  async findByKey(key: string): Promise<ApiKey | undefined> {
    const r = await keyByHash.first(this.db, { hash: hashApiKey(key) });
    return r && toApiKey(r);
  }

  /** Names of these keys by id (deleted ones are absent), in a few queries however many. */
  async names(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const chunk of chunks(ids)) {
      for (const r of await this.db.selectFrom('api_keys').select(['id', 'name']).where('id', 'in', chunk).execute()) out.set(r.id, r.name);
    }
    return out;
  }

  /**
   * Keys in creation order, `limit` at a time after `after` (the last key of the previous page):
   * one index range (migration 053) however many keys there are.
   */
  async page(q: { limit: number; after?: { createdAt: string; id: string } | undefined }): Promise<{ keys: ApiKey[]; more: boolean }> {
    let query = this.db.selectFrom('api_keys').selectAll();
    const after = q.after;
    if (after) query = query.where((eb) => eb.or([eb('created_at', '>', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)])]));
    const rows = await query.orderBy('created_at').orderBy('id').limit(q.limit + 1).execute();
    return { keys: rows.slice(0, q.limit).map(toApiKey), more: rows.length > q.limit };
  }

  async list(): Promise<ApiKey[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toApiKey);
  }

  async update(id: string, patch: ApiKeyPatch): Promise<ApiKey | undefined> {
    const set: Partial<ApiKeyRow> = { updated_at: new Date(this.clock.now()).toISOString() };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.credits !== undefined) set.credits = patch.credits;
    if (patch.webhookUrl !== undefined) set.webhook_url = patch.webhookUrl;
    if (patch.webhookSecret !== undefined) set.webhook_secret = patch.webhookSecret;
    if (patch.disabled !== undefined) set.disabled = patch.disabled ? 1 : 0;
    if (patch.defaultCharacterId !== undefined) set.default_character_id = patch.defaultCharacterId;
    if (patch.webhookDisabled !== undefined) {
      set.webhook_disabled = patch.webhookDisabled ? 1 : 0;
      // Re-enabling starts the failure count afresh, or the next failure would disable it again.
      if (!patch.webhookDisabled) set.webhook_failures = 0;
    }
    await this.db.updateTable('api_keys').set(set).where('id', '=', id).execute();
    return this.get(id);
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('api_keys').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * Take `n` credits if the allowance has room (one conditional UPDATE, so two racing requests
   * cannot both take the last credit). Unlimited keys always succeed. False means exhausted.
   */
  async reserve(id: string, n: number): Promise<boolean> {
    return reserveCredits(this.db, id, n);
  }

  /** Give back credits reserved for a turn that failed (also inside a caller's transaction). */
  async release(id: string, n: number, within: DB = this.db): Promise<void> {
    await within
      .updateTable('api_keys')
      .set({ credits_used: this.dialect.greatest(sql<number>`credits_used - ${n}`, sql.lit(0)) })
      .where('id', '=', id)
      .execute();
  }
}

/**
 * Take `n` credits of key `id` if its allowance has room, in one conditional UPDATE (also inside
 * a caller's transaction), so two racing requests can never both take the last credit.
 */
export async function reserveCredits(db: DB, id: string, n: number): Promise<boolean> {
  return (await reserve.affected(db, { id, n })) > 0;
}
