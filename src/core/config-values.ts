import { z } from 'zod';

/**
 * Zod pieces for configuration read from environment variables: every value arrives as a
 * string, and each module's schema turns it into its type with a message a person can act on.
 */

export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `a, b,c` → ['a', 'b', 'c']. */
export const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

const blankIsUnset = z.string().transform((v) => (v.trim() === '' ? undefined : v.trim()));

/** Unset or blank → undefined. */
export const optionalString = blankIsUnset.optional();

export const optionalUrl = blankIsUnset.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), 'must be an http(s) URL').optional();
