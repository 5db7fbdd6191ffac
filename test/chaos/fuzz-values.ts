/**
 * Values for the HTTP fuzz: a body built from an operation's JSON schema, then bent — wrong
 * types, hostile strings, huge or deeply nested values, prototype keys — by a seeded generator.
 */
export type Rnd = () => number;

const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const HOSTILE_STRINGS = [
  '', ' ', '\u0000', '\ud800', '😀'.repeat(50), 'a'.repeat(70_000), '../../etc/passwd', '%2e%2e%2f', '<script>alert(1)</script>',
  "'; drop table messages; --", '{{char}}{{user}}{{random:a,b}}', '\u202e', 'NaN', '-1', '1e309', 'http://169.254.169.254/latest/meta-data',
  'http://[::ffff:127.0.0.1]/x.png', 'data:image/png;base64,AAAA', '__proto__', 'constructor',
];
const HOSTILE_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), [], {}, [[[]]], { __proto__: { admin: true } }, 'x'];

/** A value of roughly the schema's shape. */
export function fromSchema(rnd: Rnd, schema: any, depth = 0): unknown {
  if (!schema || depth > 6) return null;
  if (schema.anyOf || schema.oneOf) return fromSchema(rnd, pick(rnd, schema.anyOf ?? schema.oneOf), depth + 1);
  if (schema.enum) return pick(rnd, schema.enum);
  if (schema.const !== undefined) return schema.const;
  const type = Array.isArray(schema.type) ? pick(rnd, schema.type) : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) if (rnd() < 0.8) out[k] = fromSchema(rnd, v, depth + 1);
      return out;
    }
    case 'array':
      return Array.from({ length: Math.floor(rnd() * 3) }, () => fromSchema(rnd, schema.items, depth + 1));
    case 'string':
      return schema.format === 'uri' ? 'https://example.com/a.png' : `text ${Math.floor(rnd() * 1000)}`;
    case 'integer':
      return Math.floor(rnd() * 100);
    case 'number':
      return rnd() * 100;
    case 'boolean':
      return rnd() < 0.5;
    case 'null':
      return null;
    default:
      return 'x';
  }
}

/** Bend a value: replace fields with hostile ones, add prototype keys, or swap the whole thing. */
export function mutate(rnd: Rnd, v: unknown, depth = 0): unknown {
  const r = rnd();
  if (r < 0.08) return pick(rnd, HOSTILE_VALUES);
  if (r < 0.16) return pick(rnd, HOSTILE_STRINGS);
  if (v && typeof v === 'object' && !Array.isArray(v) && depth < 4) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = rnd() < 0.3 ? mutate(rnd, x, depth + 1) : x;
    if (rnd() < 0.1) out[pick(rnd, ['__proto__', 'constructor', 'prototype', 'isAdmin', 'ownerId', 'creditsUsed'])] = pick(rnd, HOSTILE_VALUES);
    return out;
  }
  if (Array.isArray(v) && rnd() < 0.2) return Array.from({ length: 5000 }, () => 'a');
  return v;
}

/** A body as sent: JSON of the value, or something that is not quite JSON. */
export function bodyText(rnd: Rnd, value: unknown): string {
  const r = rnd();
  if (r < 0.04) return '{"a":'.repeat(20_000); // nesting deeper than any parser should follow
  if (r < 0.07) return '{"message": "unterminated';
  if (r < 0.09) return 'null';
  if (r < 0.11) return '{"message":"dup","message":{"x":1}}';
  if (r < 0.13) return 'x'.repeat(1_200_000); // over MAX_BODY_BYTES
  return JSON.stringify(value) ?? '';
}

export const hostileSegment = (rnd: Rnd): string =>
  pick(rnd, ['..', '%2e%2e', '%2F', 'a'.repeat(3000), '%00', '%ff%fe', encodeURIComponent('😀'), 'aria', 'admin', '-1', '0', 'null']);
