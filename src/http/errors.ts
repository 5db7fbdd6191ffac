import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CharbridgeError, RateLimitedError } from '../core/errors.js';
import type { Logger } from '../log.js';

/** The one error body every v1 4xx/5xx uses. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/**
 * Map anything thrown in a route to a status and `{error:{code,message,details}}`. Our own errors
 * carry their status; fastify's (bad JSON, body too large, schema validation) are translated;
 * anything else is a 500 that is logged and described to the client without internals.
 */
export function toErrorResponse(err: unknown, log?: Logger): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  if (err instanceof RateLimitedError) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  if (err instanceof CharbridgeError) {
    return { status: err.status, headers, body: { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } } };
  }
  const fe = err as Partial<FastifyError> & { validation?: Array<{ instancePath?: string; message?: string; params?: unknown }> };
  if (fe && typeof fe === 'object' && typeof fe.statusCode === 'number' && fe.statusCode < 500) {
    const code =
      fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'PAYLOAD_TOO_LARGE'
        : fe.statusCode === 415
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : fe.statusCode === 404
            ? 'NOT_FOUND'
            : 'VALIDATION_ERROR';
    return { status: fe.statusCode, headers, body: { error: { code, message: fe.message ?? 'Bad request' } } };
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
