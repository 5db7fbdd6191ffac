import type { Clock } from '../core/clock.js';
import type { DB } from './db.js';

/** A live console sign-in, as the HTTP layer checks it on each request. */
export interface ConsoleSession {
  /** The API key id the session acts as, or 'admin'. */
  keyId: string;
  /** Fingerprint of the admin key signed in with ('' for tenant keys). */
  keyCheck: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Console sessions, looked up by the SHA-256 of their token (the caller hashes; this repository
 * never sees a token). Expired rows are invisible at once and deleted on the next sign-in.
 */
export class ConsoleSessionRepo {
  constructor(private db: DB, private clock: Clock) {}

  async create(tokenHash: string, s: { keyId: string; keyCheck: string; ttlMs: number }): Promise<ConsoleSession> {
    const now = this.clock.now();
    await this.db.deleteFrom('console_sessions').where('expires_at', '<=', now).execute();
    const row = { token_hash: tokenHash, key_id: s.keyId, key_check: s.keyCheck, created_at: now, expires_at: now + s.ttlMs };
    await this.db.insertInto('console_sessions').values(row).execute();
    return { keyId: s.keyId, keyCheck: s.keyCheck, createdAt: now, expiresAt: row.expires_at };
  }

  /** The session, unless it does not exist or has expired. */
  async get(tokenHash: string): Promise<ConsoleSession | undefined> {
    const r = await this.db
      .selectFrom('console_sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .where('expires_at', '>', this.clock.now())
      .executeTakeFirst();
    return r && { keyId: r.key_id, keyCheck: r.key_check, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) };
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('token_hash', '=', tokenHash).execute();
  }

  /** End every session of a key (it was deleted or disabled). */
  async deleteForKey(keyId: string): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('key_id', '=', keyId).execute();
  }
}
