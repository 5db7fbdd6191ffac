import { expect } from 'vitest';
import { CardError, type CardErrorCode } from '../../src/cards/index.js';

/** Runs `fn`, expecting a CardError with `code`; returns it so a test can check its message. */
export function expectCardError(fn: () => unknown, code: CardErrorCode): CardError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CardError);
  const error = caught as CardError;
  expect(error.code, error.message).toBe(code);
  expect(error.status).toBe(code === 'TOO_LARGE' ? 413 : 400);
  return error;
}
