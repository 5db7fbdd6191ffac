import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../core/errors.js';

/** The deepest a JSON body may nest. Ours nest a few levels (a lorebook or a card, about eight). */
export const MAX_JSON_DEPTH = 64;

/**
 * JSON bodies are refused with a 400 before they are parsed when they nest deeper than
 * MAX_JSON_DEPTH. A megabyte of `[[[…]]]` (within MAX_BODY_BYTES) took half a second to parse and
 * walk, and a key that sends one a second would hold the process half the time; counting the
 * brackets takes a few milliseconds. Parsing itself is fastify's own (it refuses `__proto__`).
 */
export function guardJsonDepth(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (nestsDeeperThan(body as string, MAX_JSON_DEPTH)) {
      done(new ValidationError(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`, { field: 'body' }), undefined);
      return;
    }
    parse(req, body as string, done);
  });
}

/** Whether `text` opens more than `max` arrays and objects inside one another (strings skipped). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: skip what it escapes
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
