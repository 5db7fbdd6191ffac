import { sql, type Expression, type Kysely, type RawBuilder } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/**
 * Namespaces of the store's PostgreSQL advisory locks (the first key of the two-key form), so
 * one purpose's locks never wait on another's. Kysely's migration lock uses the one-key form,
 * a separate space.
 */
export const LockSpace = {
  /** Serialises appends to the updates feed, so ids commit in id order. */
  updatesFeed: 1,
  /** Serialises slug allocation per owner, so concurrent creates pick distinct slugs. */
  characterSlug: 2,
  /** Serialises claims of one API key's webhook deliveries, so a key has one in flight at a time. */
  webhookKey: 3,
  /** Serialises one owner's lorebook creates, so its quota is counted exactly. */
  lorebookOwner: 4,
  /** Serialises attaching lorebooks to one conversation or character, so their cap holds. */
  lorebookTarget: 5,
} as const;

/**
 * The few places where SQLite and PostgreSQL need different SQL. Repositories write everything
 * else once, through Kysely; anything that is not portable goes through this object.
 */
export interface SqlDialect {
  readonly name: DialectName;
  /** The larger of two numbers (SQLite's two-argument `max`, PostgreSQL's `greatest`). */
  greatest(a: Expression<number>, b: Expression<number>): RawBuilder<number>;
  /**
   * Whether a JSON text column's top-level `field` holds the string `value`; `null` matches a
   * missing field or JSON null. `field` must already be a plain identifier.
   */
  jsonFieldIs(column: string, field: string, value: string | null): RawBuilder<boolean>;
  /** The length of the JSON array in a text column, 0 for null. */
  jsonArrayLength(column: string): RawBuilder<number>;
  /** Whether a driver error is a unique-constraint violation. */
  isUniqueViolation(err: unknown): boolean;
  /**
   * Hold a lock on (`space`, `key`) until the surrounding transaction ends. On PostgreSQL this is
   * `pg_advisory_xact_lock`; on SQLite every write transaction already runs alone (one writer,
   * and Kysely gives the single connection to one transaction at a time), so it is a no-op.
   */
  lock(tx: Kysely<any>, space: number, key: string): Promise<void>;
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

const sqlite: SqlDialect = {
  name: 'sqlite',
  greatest: (a, b) => sql<number>`max(${a}, ${b})`,
  jsonFieldIs: (column, field, value) => {
    const path = `$.${field}`;
    return value === null
      ? sql<boolean>`json_extract(${sql.ref(column)}, ${path}) is null`
      : sql<boolean>`json_extract(${sql.ref(column)}, ${path}) = ${value}`;
  },
  jsonArrayLength: (column) => sql<number>`coalesce(json_array_length(${sql.ref(column)}), 0)`,
  isUniqueViolation: (err) => {
    const code = errorCode(err);
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  },
  lock: async () => {},
};

const postgres: SqlDialect = {
  name: 'postgres',
  greatest: (a, b) => sql<number>`greatest(${a}, ${b})`,
  // `->` keeps the JSON type, so only a JSON string equals the value (as SQLite's json_extract,
  // which returns numbers as numbers), and a JSON null reads like a missing field.
  jsonFieldIs: (column, field, value) =>
    value === null
      ? sql<boolean>`coalesce(${sql.ref(column)}::jsonb -> ${field}::text, 'null'::jsonb) = 'null'::jsonb`
      : sql<boolean>`${sql.ref(column)}::jsonb -> ${field}::text = to_jsonb(${value}::text)`,
  jsonArrayLength: (column) => sql<number>`coalesce(json_array_length(${sql.ref(column)}::json), 0)`,
  isUniqueViolation: (err) => errorCode(err) === '23505',
  lock: async (tx, space, key) => {
    await sql`select pg_advisory_xact_lock(${space}::int4, hashtext(${key}::text))`.execute(tx);
  },
};

export function sqlDialect(name: DialectName): SqlDialect {
  return name === 'postgres' ? postgres : sqlite;
}

/** Ids for `where id in (…)`, distinct and in lists short enough for either engine's parameter limit. */
export function chunks<T>(ids: readonly T[], size = 500): T[][] {
  const unique = [...new Set(ids)];
  const out: T[][] = [];
  for (let i = 0; i < unique.length; i += size) out.push(unique.slice(i, i + size));
  return out;
}
