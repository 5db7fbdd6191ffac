import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../core/errors.js';

/**
 * A request whose path parameters, query or JSON body hold U+0000 (NUL) is refused with a 400
 * that names the field, before its route runs: PostgreSQL's text types cannot store it (a NUL in
 * a session id or a message came back as a 500), and the store would otherwise drop it silently
 * (`storableParameters`). Byte bodies (an imported card, a platform's webhook) are not text here.
 */
export function refuseNulText(app: FastifyInstance): void {
  app.addHook('preValidation', (req, _reply, done) => {
    const found = nulIn(req.params, 'params') ?? nulIn(req.query, 'querystring') ?? nulIn(req.body, 'body');
    if (!found) return done();
    const where = found.field ? `\`${found.field}\`` : `the ${found.in}`;
    done(new ValidationError(`${where} contains a NUL character (U+0000), which text here cannot hold: remove it`, { field: found.field || null, in: found.in }));
  });
}

/**
 * Where a string or key holding a NUL is, as a field path (`messages[1].content`). Walked
 * without recursion, so no nesting depth can overflow the stack; an array's scalars are checked
 * in place, so a large body of them costs no allocation.
 */
function nulIn(value: unknown, where: string): { field: string; in: string } | undefined {
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return { field: path, in: where };
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (typeof item === 'string' ? item.includes('\0') : item !== null && typeof item === 'object') stack.push([item, `${path}[${i}]`]);
      }
    } else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      for (const k of Object.keys(v)) {
        const at = path ? `${path}.${k}` : k;
        if (k.includes('\0')) return { field: at, in: where };
        stack.push([(v as Record<string, unknown>)[k], at]);
      }
    }
  }
  return undefined;
}
