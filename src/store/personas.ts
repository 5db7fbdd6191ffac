import type { Clock } from '../core/clock.js';
import type { DB } from './db.js';
import { prepared } from './prepared.js';

const personaOf = prepared((db, p: { userKey: string }) => db.selectFrom('personas').select(['name', 'description']).where('user_key', '=', p.userKey));

/** How a user describes themselves: the name is `{{user}}`, the description goes into the context. */
export interface Persona {
  name: string | null;
  description: string | null;
}

/**
 * Personas by user key: `platform:userId` for a platform user (across all their chats),
 * `api:keyId:userId` for an API client's user.
 */
export class PersonaRepo {
  constructor(private db: DB, private clock: Clock) {}

  async get(userKey: string): Promise<Persona | undefined> {
    const r = await personaOf.first(this.db, { userKey });
    return r && (r.name !== null || r.description !== null) ? { name: r.name, description: r.description } : undefined;
  }

  /** Change the given parts (null clears one); the rest stay. */
  async set(userKey: string, patch: Partial<Persona>): Promise<Persona> {
    const next = { name: null, description: null, ...(await this.get(userKey)), ...patch };
    const now = new Date(this.clock.now()).toISOString();
    const row = { name: next.name, description: next.description, updated_at: now };
    await this.db
      .insertInto('personas')
      .values({ user_key: userKey, ...row })
      .onConflict((oc) => oc.column('user_key').doUpdateSet(row))
      .execute();
    return next;
  }

  async clear(userKey: string): Promise<boolean> {
    const r = await this.db.deleteFrom('personas').where('user_key', '=', userKey).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
