import { z } from 'zod';

/**
 * Zod pieces the v1 route modules share. The same schemas validate requests and produce the
 * OpenAPI document, so the docs cannot drift from what the server accepts.
 */

/** `{"error":{"code","message","details"}}`, the one error shape. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. VALIDATION_ERROR, CHARACTER_NOT_FOUND'),
      message: z.string().describe('What went wrong, for humans; names the field for validation errors'),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .describe('Error');

/** Response entries for the statuses every authenticated route can answer. */
export const errorResponses = {
  400: ErrorSchema.describe('Validation error (details.field names the field)'),
  401: ErrorSchema.describe('Missing or invalid API key'),
  404: ErrorSchema.describe('Not found, or not visible to this key'),
  413: ErrorSchema.describe('Body larger than MAX_BODY_BYTES'),
  429: ErrorSchema.describe('Rate limited; see the Retry-After header'),
} as const;

/** A string field whose type error says "is required" when absent and "must be a string" otherwise. */
export function str(field: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`) });
}

/** A whole-number query parameter with a range check and a message naming the field. */
export function intParam(field: string, min: number, max: number) {
  const range = max >= Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}-${max}`;
  return z.coerce
    .number({ error: `${field} must be a number` })
    .int(`${field} must be a whole number`)
    .min(min, `${field} must be ${range}`)
    .max(max, `${field} must be ${range}`);
}

/** `page` (≥ 1, default 1) and `limit` (1–100, default 20), refused rather than clamped. */
export const pageQuery = {
  page: intParam('page', 1, Number.MAX_SAFE_INTEGER).default(1).describe('Page number, from 1'),
  limit: intParam('limit', 1, 100).default(20).describe('Items per page, 1-100'),
};

export const PaginationSchema = z.object({
  page: z.number().int(),
  limit: z.number().int(),
  total: z.number().int(),
  totalPages: z.number().int(),
});

export function pagination(page: number, limit: number, total: number) {
  return { page, limit, total, totalPages: Math.ceil(total / limit) };
}

/** An id in a path: non-empty, bounded, so a megabyte of path is a 400 and not a query. */
export const IdParams = z.object({ id: z.string().min(1, 'id is required').max(200, 'id must be at most 200 characters') });

export const MessageSchema = z.object({
  id: z.string(),
  content: z.string(),
  sentAt: z.string().describe('ISO 8601 time the message was stored'),
});

export const CreditsSchema = z.object({
  used: z.number().int().describe('Credits this request cost: 1 for text, 2 with an image'),
  remaining: z.number().int().nullable().describe('Credits left on the key; null when unlimited'),
});

export const DeletedSchema = z.object({ id: z.string(), deleted: z.literal(true) });

/** A user's persona on a chat request: the name is `{{user}}`, the description goes into the context. */
export const PersonaSchema = z
  .object({
    name: z.string().trim().min(1, 'persona.name must be 1-100 characters').max(100, 'persona.name must be 1-100 characters').nullish(),
    description: z.string().trim().max(2000, 'persona.description must be at most 2000 characters').nullish(),
  })
  .strict()
  .describe('Who the user is to the character this turn: name is {{user}}, description goes into the context');

/** Security requirement for OpenAPI: either header works. */
export const security: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearer: [] }];
