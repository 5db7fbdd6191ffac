import type { CompiledQuery, Compilable } from 'kysely';
import type { DB } from './db.js';
import { runNow } from './sqlite-driver.js';

/** A parameter's stand-in while a query is compiled; never a value a caller could pass. */
const MARK = '\u0000charbridge-param:';

/** Where a compiled parameter's value comes from: a caller's parameter (an item of it, for a list), or a constant. */
type Slot = { param: string; item: number | undefined } | { value: unknown };

interface Compiled<R> {
  query: CompiledQuery<R>;
  slots: Slot[];
}

/**
 * A query built and compiled once per dialect, then run with new parameter values. Building a
 * Kysely query (immutable nodes, each frozen) and compiling it to SQL cost more CPU than
 * SQLite spends running our small statements: under load this was ~1 ms of a Telegram turn's
 * ~13. The hot per-turn statements go through here; everything else stays a plain builder.
 * On SQLite they also skip Kysely's executor whenever that changes nothing (`runNow`).
 *
 * `build` gets the parameters as stand-ins (typed as the values they stand for) and must use
 * each only as a value; a stand-in that ends up in the SQL text itself (an identifier, a
 * literal) is refused when the query is first compiled. A parameter passed as an array stands
 * for a list of values (`in (…)`, or one condition per item): its length changes the SQL, so
 * each length is compiled once.
 *
 * @example
 * const byScope = prepared((db, p: { scope: string }) => db.selectFrom('conversations').selectAll().where('scope_key', '=', p.scope));
 * const row = await byScope.first(this.db, { scope });
 * const bound = prepared((db, p: { keys: readonly string[] }) => db.selectFrom('bindings').selectAll().where('key', 'in', p.keys));
 */
export function prepared<P extends Record<string, unknown>, R>(build: (db: DB, p: P) => Compilable<R>): Prepared<P, R> {
  // Compiled SQL differs by dialect (transactions share their database's adapter) and by the
  // lengths of list parameters.
  const compiled = new WeakMap<object, Map<string, Compiled<R>>>();

  const compile = (db: DB, lists: Map<string, number>): Compiled<R> => {
    const stand = new Proxy({} as P, {
      get: (_t, name) => {
        if (typeof name !== 'string') return undefined;
        const length = lists.get(name);
        return length === undefined ? `${MARK}${name}` : Array.from({ length }, (_, i) => `${MARK}${name}#${i}`);
      },
    });
    const query = build(db, stand).compile();
    if (query.sql.includes(MARK)) throw new Error(`prepared query uses a parameter outside a value: ${query.sql}`);
    const slots = query.parameters.map((v): Slot => {
      if (typeof v !== 'string' || !v.startsWith(MARK)) return { value: v };
      const [param, item] = v.slice(MARK.length).split('#');
      return { param: param!, item: item === undefined ? undefined : Number(item) };
    });
    return { query, slots };
  };

  const run = (db: DB, params: P) => {
    let lists: Map<string, number> | undefined;
    let shape = '';
    for (const name in params) {
      const v = params[name];
      if (Array.isArray(v)) {
        (lists ??= new Map()).set(name, v.length);
        shape += `${name}:${v.length};`;
      }
    }
    const adapter = db.getExecutor().adapter;
    let byShape = compiled.get(adapter);
    if (!byShape) compiled.set(adapter, (byShape = new Map()));
    let c = byShape.get(shape);
    if (!c) byShape.set(shape, (c = compile(db, lists ?? new Map())));
    const parameters = c.slots.map((s) => {
      if ('value' in s) return s.value;
      const v = params[s.param];
      return (s.item === undefined ? v : (v as unknown[])[s.item]) ?? null;
    });
    const { query } = c;
    const withValues: CompiledQuery<R> = { query: query.query, queryId: query.queryId, sql: query.sql, parameters };
    return runNow<R>(db, withValues) ?? db.executeQuery<R>(withValues);
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
