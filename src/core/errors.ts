/**
 * One error base class with a stable `code`, an HTTP-ish `status` and optional `details`.
 * Every entry point (HTTP, platform handler, scheduler job) catches at one boundary and maps
 * these to its own shape, so the engine never needs to know who is calling.
 */
export class CharbridgeError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    opts: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = opts.status ?? 500;
    this.details = opts.details;
  }
}

export class ValidationError extends CharbridgeError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('VALIDATION_ERROR', message, { status: 400, ...(details ? { details } : {}) });
  }
}

export class UnauthorizedError extends CharbridgeError {
  constructor(message = 'Missing or invalid API key') {
    super('UNAUTHORIZED', message, { status: 401 });
  }
}

export class PaymentRequiredError extends CharbridgeError {
  constructor(message = 'No credits left on this API key') {
    super('INSUFFICIENT_CREDITS', message, { status: 402 });
  }
}

export class ForbiddenError extends CharbridgeError {
  constructor(message = 'Not allowed') {
    super('FORBIDDEN', message, { status: 403 });
  }
}

export class NotFoundError extends CharbridgeError {
  constructor(what: string, code = 'NOT_FOUND') {
    super(code, `${what} not found`, { status: 404 });
  }
}

export class ConflictError extends CharbridgeError {
  constructor(message: string, code = 'CONFLICT') {
    super(code, message, { status: 409 });
  }
}

/** A tenant key already owns as many of something as it may (`limit`); deleting one makes room. */
export class QuotaExceededError extends CharbridgeError {
  constructor(what: string, limit: number) {
    super('QUOTA_EXCEEDED', `This key already has ${limit} ${what}, the most it may have; delete one first`, { status: 403, details: { limit } });
  }
}

/** Over a rate limit; `retryAfterMs` says when trying again can succeed. */
export class RateLimitedError extends CharbridgeError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number, message = 'Too many requests, slow down', code = 'RATE_LIMITED') {
    super(code, message, { status: 429, details: { retryAfterMs } });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * What every context of a turn must hold — the character's system prompt, the message being
 * answered, the instructions after it — is already over CONTEXT_TOKENS: no context fits.
 */
export class ContextTooLongError extends CharbridgeError {
  constructor(message: string, details: { neededTokens: number; characterTokens: number; messageTokens: number; contextTokens: number }) {
    super('CONTEXT_TOO_LONG', message, { status: 413, details });
  }
}

/** The model server answered, with an error, on every attempt. */
export class ModelError extends CharbridgeError {
  constructor(message: string, cause?: unknown) {
    super('MODEL_ERROR', message, { status: 502, cause });
  }
}

/** The model answered without any text. */
export class EmptyReplyError extends ModelError {
  constructor() {
    super('The model returned an empty reply');
  }
}

/** No model backend could be reached at all (refused, DNS, timeout, open circuit). */
export class ModelUnavailableError extends CharbridgeError {
  constructor(message: string, cause?: unknown) {
    super('MODEL_UNAVAILABLE', message, { status: 503, cause });
  }
}

/**
 * The database cannot be reached (a restart, a failover): the request may be tried again shortly.
 * A write that was under way when the connection dropped may or may not have been applied, so a
 * retry is only safe with an Idempotency-Key.
 */
export class StoreUnavailableError extends CharbridgeError {
  constructor(message: string, cause?: unknown) {
    super('STORE_UNAVAILABLE', message, { status: 503, cause });
  }
}

/**
 * The database dropped under a turn that can be finished later, and its claim was handed to the
 * recovery sweep (credits still reserved): whoever started it must neither report it failed nor
 * mark it finished.
 */
export class TurnHandedOffError extends StoreUnavailableError {}

/** Configuration that cannot start the service; the message names the variable and the fix. */
export class ConfigError extends CharbridgeError {
  constructor(message: string) {
    super('CONFIG_ERROR', message, { status: 500 });
  }
}

export function isCharbridgeError(err: unknown): err is CharbridgeError {
  return err instanceof CharbridgeError;
}

/**
 * `err` and what caused it, outermost first, at most `depth` deep: a library's error often sits
 * a few causes down (the SDK's error wraps the fetch's, which wraps the socket's).
 */
export function causeChain(err: unknown, depth = 5): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e != null && chain.length < depth; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}
