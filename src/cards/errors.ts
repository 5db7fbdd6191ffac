import { CharbridgeError } from '../core/errors.js';

/**
 * Why a card file could not be read or written. The codes are stable so the HTTP API and the
 * CLI can map them without parsing messages; the message says what is wrong in words.
 */
export type CardErrorCode =
  | 'NOT_A_CARD_FILE'
  | 'NOT_PNG'
  | 'BAD_PNG'
  | 'NO_CARD_CHUNK'
  | 'BAD_BASE64'
  | 'BAD_JSON'
  | 'UNKNOWN_SPEC'
  | 'BAD_FIELD'
  | 'MISSING_NAME'
  | 'BAD_ZIP'
  | 'NO_CARD_JSON'
  | 'MISSING_ASSET'
  | 'TOO_LARGE';

/**
 * Bad card input (status 400; 413 for TOO_LARGE, a card that unpacks to more than it may);
 * `details.field` names the offending card field when there is one.
 */
export class CardError extends CharbridgeError {
  declare readonly code: CardErrorCode;

  constructor(code: CardErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(code, message, {
      status: code === 'TOO_LARGE' ? 413 : 400,
      ...(opts.field === undefined ? {} : { details: { field: opts.field } }),
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
    });
  }
}

export function isCardError(err: unknown): err is CardError {
  return err instanceof CardError;
}
