import type { CompiledQuery, Compilable } from 'kysely';
import type { DB } from './db.js';

/** A parameter's stand-in while a query is compiled; never a value a caller could pass. */
const MARK = '\u0000charbridge-param:';

type Slot = { param: string } | { value: unknown };

/**
 * A query built and compiled once per dialect, then run with new parameter values. Building a
 * Kysely query (immutable nodes, each frozen) and compiling it to SQL cost more CPU than
 * SQLite spends running our small statements: under load this was ~1 ms of a Telegram turn's
 * ~13. The hot per-turn statements go through here; everything else stays a plain builder.
 *
 * `build` gets the parameters as stand-ins (typed as the values they stand for) and must use
 * each only as a value: a stand-in that ends up in the SQL text itself (an identifier, a
 * literal, a list whose length varies) is refused when the query is first compiled.
 *
 * @example
 * const byScope = prepared((db, p: { scope: string }) => db.selectFrom('conversations').selectAll().where('scope_key', '=', p.scope));
 * const [row] = await byScope.rows(this.db, { scope });
 */
export function prepared<P extends Record<string, unknown>, R>(build: (db: DB, p: P) => Compilable<R>): Prepared<P, R> {
  // Compiled SQL differs by dialect; transactions share their database's adapter.
  const compiled = new WeakMap<object, { query: CompiledQuery<R>; slots: Slot[] }>();
  const stand = new Proxy({} as P, { get: (_t, name) => (typeof name === 'string' ? `${MARK}${name}` : undefined) });

  const compiledFor = (db: DB) => {
    const adapter = db.getExecutor().adapter;
    let c = compiled.get(adapter);
    if (!c) {
      const query = build(db, stand).compile();
      if (query.sql.includes(MARK)) throw new Error(`prepared query uses a parameter outside a value: ${query.sql}`);
      const slots = query.parameters.map((v): Slot => (typeof v === 'string' && v.startsWith(MARK) ? { param: v.slice(MARK.length) } : { value: v }));
      c = { query, slots };
      compiled.set(adapter, c);
    }
    return c;
  };

  const run = (db: DB, params: P) => {
    const { query, slots } = compiledFor(db);
    const parameters = slots.map((s) => ('param' in s ? (params[s.param] ?? null) : s.value));
    return db.executeQuery<R>({ query: query.query, queryId: query.queryId, sql: query.sql, parameters });
  };

  return {
    rows: async (db, params) => (await run(db, params)).rows,
    first: async (db, params) => (await run(db, params)).rows[0],
    affected: async (db, params) => Number((await run(db, params)).numAffectedRows ?? 0n),
  };
}

export interface Prepared<P, R> {
  /** Every row the query returns. */
  rows(db: DB, params: P): Promise<R[]>;
  /** The first row, if any. */
  first(db: DB, params: P): Promise<R | undefined>;
  /** Rows an insert, update or delete changed. */
  affected(db: DB, params: P): Promise<number>;
}
