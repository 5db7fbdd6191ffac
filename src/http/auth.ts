import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../core/errors.js';
import type { Store } from '../store/index.js';
import { adminCaller, keyCaller, type Caller } from '../services/access.js';

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

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Resolve the caller of a request, or throw 401. The admin key is compared in constant time
 * (over SHA-256 digests, so lengths do not leak either); tenant keys are looked up by their
 * hash, so the plaintext never touches the database.
 */
export async function authenticate(req: FastifyRequest, store: Store, adminApiKey: string | undefined): Promise<Caller> {
  const key = presentedKey(req);
  if (!key) throw new UnauthorizedError('Missing API key: send it as x-api-key or Authorization: Bearer <key>');
  return callerForKey(key, store, adminApiKey);
}

/** The caller a key stands for (the admin, or an enabled tenant key), or 401. */
export async function callerForKey(key: string, store: Store, adminApiKey: string | undefined): Promise<Caller> {
  if (adminApiKey && timingSafeEqual(digest(key), digest(adminApiKey))) return adminCaller;
  const apiKey = key.length <= 512 ? await store.apiKeys.findByKey(key) : undefined;
  if (!apiKey) throw new UnauthorizedError('Invalid API key');
  if (apiKey.disabled) throw new UnauthorizedError('This API key is disabled');
  return keyCaller(apiKey);
}

/** Another way to authenticate a request that carries no key (the console's session cookie); undefined when it does not apply. */
export type CallerResolver = (req: FastifyRequest) => Promise<Caller | undefined>;

/** An `onRequest` hook that authenticates every route of the scope it is added to. A presented key always wins over `fallback`. */
export function apiKeyHook(store: Store, adminApiKey: string | undefined, fallback?: CallerResolver) {
  return async (req: FastifyRequest): Promise<void> => {
    req.caller = (fallback && !presentedKey(req) ? await fallback(req) : undefined) ?? (await authenticate(req, store, adminApiKey));
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
