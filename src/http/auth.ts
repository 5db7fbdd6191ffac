import type { FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../core/errors.js';
import type { Authenticator, Caller } from '../services/access.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API key hook on every authenticated route. */
    caller: Caller | null;
  }
}

/** The key a request presents: `x-api-key`, else `Authorization: Bearer <key>`. */
export function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers['x-api-key'];
  const direct = Array.isArray(header) ? header[0] : header;
  if (direct && direct.trim()) return direct.trim();
  const auth = req.headers.authorization;
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m?.[1];
}

/** Another way to authenticate a request that carries no key (the console's session cookie); undefined when it does not apply. */
export type CallerResolver = (req: FastifyRequest) => Promise<Caller | undefined>;

/**
 * An `onRequest` hook that authenticates every route of the scope it is added to (401
 * otherwise). A presented key always wins over `fallback`.
 */
export function apiKeyHook(access: Authenticator, fallback?: CallerResolver) {
  return async (req: FastifyRequest): Promise<void> => {
    const key = presentedKey(req);
    req.caller = (fallback && !key ? await fallback(req) : undefined) ?? (await access.callerFor(key));
  };
}

/** The authenticated caller of a request (the hook ran, or this is a bug). */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new UnauthorizedError();
  return req.caller;
}

/** The caller, who must be the admin (403 for tenant keys). */
export function adminOf(req: FastifyRequest): Caller {
  const caller = callerOf(req);
  if (!caller.isAdmin) throw new ForbiddenError('This endpoint needs the admin key (ADMIN_API_KEY)');
  return caller;
}
