import { z } from 'zod';
import { ValidationError } from '../core/errors.js';

/**
 * Field schemas whose messages read after a field path ("entries[2].keys must be a list of
 * strings"), so an author uploading a broken lorebook learns which field to fix.
 */
export const field = {
  bool: () => z.boolean({ error: 'must be true or false' }),
  text: () => z.string({ error: 'must be a string' }),
  strings: () => z.array(z.string({ error: 'must be a string' }), { error: 'must be a list of strings' }),
  number: (min: number, max?: number) => {
    const range = max === undefined ? `at least ${min}` : `from ${min} to ${max}`;
    const n = z.number({ error: `must be a number ${range}` }).min(min, `must be a number ${range}`);
    return max === undefined ? n : n.max(max, `must be a number ${range}`);
  },
  int: (min: number, max?: number) => {
    const range = max === undefined ? `at least ${min}` : `from ${min} to ${max}`;
    const n = z.number({ error: `must be a whole number ${range}` }).int(`must be a whole number ${range}`).min(min, `must be a whole number ${range}`);
    return max === undefined ? n : n.max(max, `must be a whole number ${range}`);
  },
  record: () => z.record(z.string(), z.unknown(), { error: 'must be an object' }),
};

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][\w$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

/** Parses or throws a ValidationError whose message names the first bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue ? formatPath(issue.path) : '';
  const message = `${what}${path ? ` ${path}` : ''} ${issue?.message ?? 'is invalid'}`;
  throw new ValidationError(message, { field: path || what });
}
