import type { SessionInfo } from './types';

/** An error answer of the API, `{error:{code,message,details}}`, with the field it names (if any). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}

let csrfToken = '';
let onSignedOut: (message: string) => void = () => {};

/** Remember the session's CSRF token, sent on every state-changing request. */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Called when the API says the session is over (401), so the app can return to sign-in. */
export function onSessionEnded(handler: (message: string) => void): void {
  onSignedOut = handler;
}

export async function errorFrom(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: { field?: unknown } } };
    const e = body.error ?? {};
    const field = typeof e.details?.field === 'string' && e.details.field ? e.details.field : null;
    return new ApiError(res.status, e.code ?? 'ERROR', e.message ?? `Request failed (${res.status})`, field);
  } catch {
    return new ApiError(res.status, 'ERROR', `Request failed (${res.status} ${res.statusText})`, null);
  }
}

/** Headers for a request; unsafe methods carry the CSRF token. */
export function requestHeaders(method: string, json: boolean): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (json) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken;
  return headers;
}

type Query = Record<string, string | number | undefined | null>;

/** The URL of an API path with its query, leaving out empty values. */
export function apiUrl(path: string, query: Query = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const base = path.startsWith('/console/') ? path : `/api/v1${path}`;
  return qs.size ? `${base}?${qs}` : base;
}

/** The answer's JSON, or the API's error (a 401 also ends the console session). */
async function answer<T>(res: Response, path: string): Promise<T> {
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && !path.startsWith('/console/')) onSignedOut(err.message);
    throw err;
  }
  return (await res.json()) as T;
}

/**
 * Call the public HTTP API with the session cookie. Throws ApiError with the API's own message;
 * a 401 also ends the console session.
 */
export async function api<T>(path: string, opts: { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'; body?: unknown; query?: Query } = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const res = await fetch(apiUrl(path, opts.query), {
    method,
    credentials: 'same-origin',
    headers: requestHeaders(method, opts.body !== undefined),
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  return answer<T>(res, path);
}

/** POST a file to the API as multipart field `file` (the browser sets the multipart boundary). */
export async function upload<T>(path: string, file: File): Promise<T> {
  const form = new FormData();
  form.append('file', file, file.name);
  const res = await fetch(apiUrl(path), { method: 'POST', credentials: 'same-origin', headers: requestHeaders('POST', false), body: form });
  return answer<T>(res, path);
}

/**
 * Where a character's picture is: its own image URL when it has one, else the API's avatar route
 * (a card's picture, or a generated one), which reads the session cookie the <img> sends. The
 * update time in the URL makes a changed character load its new picture.
 */
export function avatarUrl(c: { id: string; avatar: string | null; profilePhotoUrl: string | null; updatedAt: string }): string {
  return c.avatar ?? c.profilePhotoUrl ?? apiUrl(`/characters/${encodeURIComponent(c.id)}/avatar`, { v: c.updatedAt });
}

export const signIn = (key: string) => api<SessionInfo>('/console/session', { method: 'POST', body: { key } });
export const currentSession = () => api<SessionInfo>('/console/session');
export const signOut = () => api<{ signedOut: true }>('/console/session', { method: 'DELETE' });
