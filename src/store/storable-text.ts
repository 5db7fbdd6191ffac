/**
 * U+0000 (NUL) taken out of a statement's text parameters, on both stores. PostgreSQL's text
 * types cannot hold it (the statement fails: "invalid byte sequence for encoding UTF8: 0x00"),
 * and SQLite would keep it, so the two stores would differ. The HTTP API refuses it where it
 * enters (a 400 naming the field); what else can carry one — a platform message, a model's
 * reply, an imported card or lorebook — is stored without it rather than failing the turn after
 * the model was paid. It is invisible anyway. Returns `params` itself when nothing changes.
 */
export function storableParameters(params: readonly unknown[]): readonly unknown[] {
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (typeof p === 'string' && p.includes('\0')) return params.map((v) => (typeof v === 'string' ? v.replaceAll('\0', '') : v));
  }
  return params;
}
