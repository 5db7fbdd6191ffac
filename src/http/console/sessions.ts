import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../../core/errors.js';
import type { Authenticator, Caller } from '../../services/access.js';
import { csrfTokenFor, type ConsoleSessions, type SessionView } from '../../services/console-sessions.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'cb_console';
/** The header a console request carries its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Console sessions over HTTP: the HttpOnly, SameSite=Strict cookie (Secure over HTTPS — and
 * `req.protocol` believes X-Forwarded-Proto only from proxies TRUST_PROXY names), and the CSRF
 * defence for requests that change something.
 */
export class ConsoleCookies {
  constructor(
    private readonly sessions: ConsoleSessions,
    private readonly access: Authenticator,
  ) {}

  async signIn(key: string, req: FastifyRequest, reply: FastifyReply): Promise<SessionView> {
    const { token, view } = await this.sessions.open(key);
    void reply.setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: req.protocol === 'https',
      maxAge: Math.floor(this.sessions.ttlMs / 1000),
    });
    return view;
  }

  /** The signed-in session of a request (no CSRF check: reading who you are changes nothing). */
  async current(req: FastifyRequest): Promise<SessionView> {
    const token = req.cookies[SESSION_COOKIE];
    if (!token) throw new UnauthorizedError('Not signed in');
    return (await this.sessions.resolve(token)).view;
  }

  /** End the request's session and clear its cookie; fine when there is none. */
  async signOut(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const token = req.cookies[SESSION_COOKIE];
    if (token) {
      checkCsrf(req, token);
      await this.sessions.close(token);
    }
    void reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https' });
  }

  /**
   * The API key hook's fallback: the caller of a request that carries the session cookie and no
   * key, after the CSRF check for anything but GET/HEAD/OPTIONS; undefined without a cookie. It
   * counts against the key's per-minute budget like any request of that key.
   */
  readonly resolveRequest = async (req: FastifyRequest): Promise<Caller | undefined> => {
    const token = req.cookies[SESSION_COOKIE];
    if (!token) return undefined;
    const { caller } = await this.sessions.resolve(token);
    if (!SAFE_METHODS.has(req.method)) checkCsrf(req, token);
    await this.access.charge(caller);
    return caller;
  };

  /**
   * Who is looking, for a picture an <img> loads with the session cookie: the session's caller,
   * or undefined (no cookie, or an ended session: the picture is then served as to anyone).
   * Not charged: a list of characters loads a picture per row, and reading one changes nothing.
   */
  readonly resolveViewer = async (req: FastifyRequest): Promise<Caller | undefined> => {
    const token = req.cookies[SESSION_COOKIE];
    if (!token || !SAFE_METHODS.has(req.method)) return undefined;
    return this.sessions.resolve(token).then(
      (s) => s.caller,
      () => undefined,
    );
  };
}

/**
 * Refuse a state-changing cookie request unless it proves it comes from the console: the CSRF
 * token (which only our own pages can read) must match, and a browser-reported cross-site
 * origin (Sec-Fetch-Site) is refused even before that.
 */
function checkCsrf(req: FastifyRequest, token: string): void {
  refuseCrossSite(req);
  const sent = req.headers[CSRF_HEADER];
  const value = Array.isArray(sent) ? sent[0] : sent;
  const expected = Buffer.from(csrfTokenFor(token));
  if (!value || value.length !== expected.length || !timingSafeEqual(Buffer.from(value), expected)) {
    throw new ForbiddenError(`Missing or wrong ${CSRF_HEADER} header: console requests that change something must send the session's CSRF token`);
  }
}

/** Browsers say where a request comes from; anything cross-site is refused for cookie-authenticated writes. */
export function refuseCrossSite(req: FastifyRequest): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new ForbiddenError('Cross-site requests cannot use a console session');
  }
}
