import { CardError } from './errors.js';

/** Small, strict readers for untrusted card JSON; every failure names the field it is about. */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "an array", "a number (3)", … for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'text';
  return `a ${typeof value} (${String(value)})`;
}

function bad(field: string, want: string, value: unknown): CardError {
  return new CardError('BAD_FIELD', `${field} must be ${want}, not ${describe(value)}`, { field });
}

/** Text field: absent or null is the empty string (V1 rule); numbers and booleans become text. */
export function text(value: unknown, field: string): string {
  if (value == null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw bad(field, 'text', value);
}

export function optionalString(value: unknown, field: string): string | undefined {
  return value == null ? undefined : text(value, field);
}

/** Numbers may arrive as numeric text from loosely typed editors. */
export function optionalNumber(value: unknown, field: string): number | undefined {
  if (value == null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  throw bad(field, 'a number', value);
}

export function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value == null) return undefined;
  if (typeof value === 'boolean') return value;
  throw bad(field, 'true or false', value);
}

export function listOf<T>(value: unknown, field: string, item: (value: unknown, field: string) => T): T[] {
  if (!Array.isArray(value)) throw bad(field, 'a list', value);
  return value.map((entry, index) => item(entry, `${field}[${index}]`));
}

export function record(value: unknown, field: string): Record<string, unknown> {
  if (value == null) return {};
  if (isRecord(value)) return value;
  throw bad(field, 'an object', value);
}
