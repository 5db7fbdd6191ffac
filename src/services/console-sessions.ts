import { createHash, createHmac, randomBytes } from 'node:crypto';
import { UnauthorizedError } from '../core/errors.js';
import type { ConsoleSession, Store } from '../store/index.js';
import { ADMIN_ID, adminCaller, keyCaller, type Authenticator, type Caller } from './access.js';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/**
 * The CSRF token of a session: an HMAC of a fixed label keyed by the session token. The server
 * recomputes it from the cookie, so nothing more is stored; knowing it reveals nothing about the
 * token, and a page on another origin can never read it (it is only in JSON responses).
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('charbridge console csrf').digest('base64url');
}

/**
 * A short fingerprint of the admin key a session was opened with: enough to notice that
 * ADMIN_API_KEY changed (which ends those sessions), too short to serve as the key's hash.
 */
function adminKeyCheck(adminKey: string): string {
  return sha256(`charbridge console admin\0${adminKey}`).slice(0, 16);
}

/** What signing in (or asking who is signed in) answers. */
export interface SessionView {
  caller: { keyId: string; isAdmin: boolean; name: string };
  csrfToken: string;
  expiresAt: string;
}

/**
 * Console sign-ins on top of the API's keys. A session acts as exactly the caller its key stands
 * for, so the console sees what the API shows that key and nothing else. Only a hash of the
 * session token is stored. Each use re-checks the key: a deleted or disabled key (or a changed
 * admin key) ends its sessions at once.
 */
export class ConsoleSessions {
  constructor(
    private readonly store: Store,
    private readonly access: Authenticator,
    private readonly opts: { adminApiKey: string | undefined; ttlMs: number },
  ) {}

  get ttlMs(): number {
    return this.opts.ttlMs;
  }

  /** Check the key and open a session; 401 for a wrong key, like the API. */
  async open(key: string): Promise<{ token: string; view: SessionView }> {
    const caller = await this.access.identify(key);
    const token = randomBytes(32).toString('base64url');
    const session = await this.store.consoleSessions.create(sha256(token), {
      keyId: caller.keyId,
      keyCheck: caller.isAdmin ? adminKeyCheck(key) : '',
      ttlMs: this.opts.ttlMs,
    });
    return { token, view: this.view(caller, token, session) };
  }

  /** The caller a session token stands for now, or 401 when it ended. */
  async resolve(token: string): Promise<{ caller: Caller; view: SessionView }> {
    const hash = sha256(token);
    const session = await this.store.consoleSessions.get(hash);
    if (!session) throw new UnauthorizedError('Your console session has expired or ended; sign in again');
    if (session.keyId === ADMIN_ID) {
      const admin = this.opts.adminApiKey;
      if (!admin || adminKeyCheck(admin) !== session.keyCheck) {
        await this.store.consoleSessions.delete(hash);
        throw new UnauthorizedError('The admin key has changed; sign in again');
      }
      return { caller: adminCaller, view: this.view(adminCaller, token, session) };
    }
    const apiKey = await this.store.apiKeys.get(session.keyId);
    if (!apiKey || apiKey.disabled) {
      await this.store.consoleSessions.deleteForKey(session.keyId);
      throw new UnauthorizedError(apiKey ? 'This API key is disabled' : 'This API key was deleted');
    }
    const caller = keyCaller(apiKey);
    return { caller, view: this.view(caller, token, session) };
  }

  /** End a session; fine when it has already ended. */
  async close(token: string): Promise<void> {
    await this.store.consoleSessions.delete(sha256(token));
  }

  private view(caller: Caller, token: string, session: ConsoleSession): SessionView {
    return {
      caller: { keyId: caller.keyId, isAdmin: caller.isAdmin, name: caller.apiKey?.name ?? 'Admin' },
      csrfToken: csrfTokenFor(token),
      expiresAt: new Date(session.expiresAt).toISOString(),
    };
  }
}
