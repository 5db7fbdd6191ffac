import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../../core/errors.js';
import { ADMIN_ID, adminCaller, keyCaller, type Caller } from '../../services/access.js';
import type { ConsoleSession, Store } from '../../store/index.js';
import { callerForKey } from '../auth.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'cb_console';
/** The header a console request carries its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

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
 * for, so the console sees what the API shows that key and nothing else. Each use re-checks the
 * key: a deleted or disabled key (or a changed admin key) ends its sessions at once.
 */
export class ConsoleSessions {
  constructor(
    private store: Store,
    private opts: { adminApiKey: string | undefined; ttlMs: number },
  ) {}

  /** Check the key, open a session, set its cookie; 401 for a wrong key, like the API. */
  async signIn(key: string, req: FastifyRequest, reply: FastifyReply): Promise<SessionView> {
    const caller = await callerForKey(key, this.store, this.opts.adminApiKey);
    const token = randomBytes(32).toString('base64url');
    const session = await this.store.consoleSessions.create(sha256(token), {
      keyId: caller.keyId,
      keyCheck: caller.isAdmin ? adminKeyCheck(key) : '',
      ttlMs: this.opts.ttlMs,
    });
    void reply.setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      // req.protocol believes X-Forwarded-Proto only from proxies TRUST_PROXY names.
      secure: req.protocol === 'https',
      maxAge: Math.floor(this.opts.ttlMs / 1000),
    });
    return this.view(caller, token, session);
  }

  /** The signed-in session of a request (no CSRF check: reading who you are changes nothing). */
  async current(req: FastifyRequest): Promise<SessionView> {
    const token = req.cookies[SESSION_COOKIE];
    if (!token) throw new UnauthorizedError('Not signed in');
    const { caller, session } = await this.resolve(token);
    return this.view(caller, token, session);
  }

  /** End the request's session and clear its cookie; fine when there is none. */
  async signOut(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const token = req.cookies[SESSION_COOKIE];
    if (token) {
      this.checkCsrf(req, token);
      await this.store.consoleSessions.delete(sha256(token));
    }
    void reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https' });
  }

  /**
   * The API key hook's fallback: the caller of a request that carries the session cookie and no
   * key, after the CSRF check for anything but GET/HEAD/OPTIONS; undefined without a cookie.
   */
  readonly resolveRequest = async (req: FastifyRequest): Promise<Caller | undefined> => {
    const token = req.cookies[SESSION_COOKIE];
    if (!token) return undefined;
    const { caller } = await this.resolve(token);
    if (!SAFE_METHODS.has(req.method)) this.checkCsrf(req, token);
    return caller;
  };

  /**
   * Refuse a state-changing cookie request unless it proves it comes from the console: the CSRF
   * token (which only our own pages can read) must match, and a browser-reported cross-site
   * origin (Sec-Fetch-Site) is refused even before that.
   */
  checkCsrf(req: FastifyRequest, token: string): void {
    refuseCrossSite(req);
    const sent = req.headers[CSRF_HEADER];
    const value = Array.isArray(sent) ? sent[0] : sent;
    const expected = Buffer.from(csrfTokenFor(token));
    if (!value || value.length !== expected.length || !timingSafeEqual(Buffer.from(value), expected)) {
      throw new ForbiddenError(`Missing or wrong ${CSRF_HEADER} header: console requests that change something must send the session's CSRF token`);
    }
  }

  private async resolve(token: string): Promise<{ caller: Caller; session: ConsoleSession }> {
    const hash = sha256(token);
    const session = await this.store.consoleSessions.get(hash);
    if (!session) throw new UnauthorizedError('Your console session has expired or ended; sign in again');
    if (session.keyId === ADMIN_ID) {
      const admin = this.opts.adminApiKey;
      if (!admin || adminKeyCheck(admin) !== session.keyCheck) {
        await this.store.consoleSessions.delete(hash);
        throw new UnauthorizedError('The admin key has changed; sign in again');
      }
      return { caller: adminCaller, session };
    }
    const apiKey = await this.store.apiKeys.get(session.keyId);
    if (!apiKey || apiKey.disabled) {
      await this.store.consoleSessions.deleteForKey(session.keyId);
      throw new UnauthorizedError(apiKey ? 'This API key is disabled' : 'This API key was deleted');
    }
    return { caller: keyCaller(apiKey), session };
  }

  private view(caller: Caller, token: string, session: ConsoleSession): SessionView {
    return {
      caller: { keyId: caller.keyId, isAdmin: caller.isAdmin, name: caller.apiKey?.name ?? 'Admin' },
      csrfToken: csrfTokenFor(token),
      expiresAt: new Date(session.expiresAt).toISOString(),
    };
  }
}

/** Browsers say where a request comes from; anything cross-site is refused for cookie-authenticated writes. */
export function refuseCrossSite(req: FastifyRequest): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new ForbiddenError('Cross-site requests cannot use a console session');
  }
}
