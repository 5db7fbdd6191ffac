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
 * Where the first string or key holding a NUL is, as a field path (`messages[1].content`). Walked
 * without recursion, so no nesting depth can overflow the stack; a path is only built for nested
 * objects, so a large body of scalars costs no allocation.
 */
function nulIn(value: unknown, where: string): { field: string; in: string } | undefined {
  if (typeof value === 'string') return value.includes('\0') ? { field: '', in: where } : undefined;
  const stack: Array<[object, string]> = [];
  if (value !== null && typeof value === 'object') stack.push([value, '']);
  const visit = (child: unknown, at: () => string): { field: string; in: string } | undefined => {
    if (typeof child === 'string') return child.includes('\0') ? { field: at(), in: where } : undefined;
    if (child !== null && typeof child === 'object' && !ArrayBuffer.isView(child)) stack.push([child, at()]);
    return undefined;
  };
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    let found: { field: string; in: string } | undefined;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length && !found; i++) found = visit(v[i], () => `${path}[${i}]`);
    } else {
      for (const k of Object.keys(v)) {
        const at = () => (path ? `${path}.${k}` : k);
        found = k.includes('\0') ? { field: at(), in: where } : visit((v as Record<string, unknown>)[k], at);
        if (found) break;
      }
    }
    if (found) return found;
  }
  return undefined;
}
