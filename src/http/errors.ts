import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CharbridgeError, RateLimitedError, StoreUnavailableError } from '../core/errors.js';
import type { Logger } from '../log.js';

/** The one error body every v1 4xx/5xx uses. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

interface SchemaIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** `/tags/0` → `tags.0`; the empty path is the whole body (or query). */
function fieldOf(issue: SchemaIssue): string {
  return (issue.instancePath ?? '').split('/').filter(Boolean).join('.');
}

/**
 * A schema issue as one sentence that names the field. Our schemas already say
 * "personality must be 10-2000 characters"; zod's defaults ("Invalid input: expected string,
 * received undefined") are rewritten so a client can act on them without reading docs.
 */
export function describeIssue(issue: SchemaIssue, context: string | undefined): { field: string; message: string } {
  const params = issue.params ?? {};
  if (issue.keyword === 'unrecognized_keys' && Array.isArray(params.keys)) {
    const keys = params.keys.map(String);
    const base = fieldOf(issue);
    const field = base ? `${base}.${keys[0] ?? ''}` : (keys[0] ?? '');
    return { field, message: `Unknown field${keys.length > 1 ? 's' : ''}: ${keys.join(', ')}` };
  }
  const field = fieldOf(issue);
  const raw = issue.message ?? 'is invalid';
  if (issue.keyword === 'invalid_type' && /received undefined/.test(raw)) {
    if (!field) return { field, message: context === 'querystring' ? 'Query parameters are required' : 'Request body must be a JSON object' };
    return { field, message: `${field} is required` };
  }
  if (!field) {
    if (issue.keyword === 'invalid_type') return { field, message: 'Request body must be a JSON object' };
    return { field, message: raw };
  }
  if (raw.toLowerCase().startsWith((field.split('.')[0] ?? field).toLowerCase())) return { field, message: raw };
  if (issue.keyword === 'invalid_type') {
    const expected = typeof params.expected === 'string' ? params.expected : 'another type';
    return { field, message: `${field} must be ${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected}` };
  }
  return { field, message: `${field}: ${raw.replace(/^Invalid input: /, '')}` };
}

function statusCode(fe: Partial<FastifyError>): string {
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe.statusCode === 413) return 'PAYLOAD_TOO_LARGE';
  if (fe.statusCode === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (fe.statusCode === 404) return 'NOT_FOUND';
  if (fe.statusCode === 405) return 'METHOD_NOT_ALLOWED';
  if (fe.statusCode === 414) return 'URI_TOO_LONG';
  return 'VALIDATION_ERROR';
}

/**
 * Map anything thrown in a route to a status and `{error:{code,message,details}}`. Our own errors
 * carry their status; fastify's (bad JSON, body too large, schema validation) are translated, and
 * a validation error names the field in the message and in `details.field`; anything else is a
 * 500 that is logged and described to the client without internals.
 */
export function toErrorResponse(err: unknown, log?: Logger): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  if (err instanceof RateLimitedError) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  if (err instanceof StoreUnavailableError) headers['retry-after'] = '5';
  if (err instanceof CharbridgeError) {
    if (err.status >= 500) log?.warn({ err, code: err.code }, 'request failed');
    return { status: err.status, headers, body: { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } } };
  }
  const fe = err as Partial<FastifyError> & { validation?: SchemaIssue[]; validationContext?: string };
  if (fe && typeof fe === 'object' && Array.isArray(fe.validation) && fe.validation.length > 0) {
    const issues = fe.validation.map((i) => describeIssue(i, fe.validationContext));
    const first = issues[0]!;
    return {
      status: 400,
      headers,
      body: { error: { code: 'VALIDATION_ERROR', message: first.message, details: { field: first.field || null, in: fe.validationContext ?? 'body', issues } } },
    };
  }
  if (fe && typeof fe === 'object' && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, headers, body: { error: { code: statusCode(fe), message: fe.message ?? 'Bad request' } } };
  }
  // ioredis gives up on a command once its reconnect attempts are spent: Redis is down, not the request wrong.
  if ((err as Error | null)?.name === 'MaxRetriesPerRequestError') {
    log?.warn({ err }, 'request failed: Redis is unreachable');
    return { status: 503, headers: { ...headers, 'retry-after': '5' }, body: { error: { code: 'REDIS_UNAVAILABLE', message: 'Redis cannot be reached; try again shortly' } } };
  }
  log?.error({ err }, 'unhandled error in HTTP route');
  return { status: 500, headers, body: { error: { code: 'INTERNAL_ERROR', message: 'Something went wrong on our side' } } };
}

/** Fastify error handler using toErrorResponse. */
export function errorHandler(log: Logger) {
  return (err: unknown, _req: FastifyRequest, reply: FastifyReply) => {
    const { status, body, headers } = toErrorResponse(err, log);
    void reply.status(status).headers(headers).send(body);
  };
}
