import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `mkdir -p`: `path` and any missing parents, each made once. Node's own recursive mkdir never
 * returns where the kernel answers ENOENT for a folder whose parent exists (anywhere under
 * `/proc`): it goes back to the parent, finds it, and tries the child again, for ever. Here each
 * folder is tried once and its error is thrown, as `mkdirSync` throws it.
 */
export function makeFolder(path: string, mode?: number): void {
  const missing: string[] = [];
  for (let p = path; !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  // A file where the folder should be: mkdirSync says so (EEXIST), as the recursive one did.
  if (!missing.length && !statSync(path).isDirectory()) mkdirSync(path);
  for (const p of missing) {
    try {
      mkdirSync(p, mode === undefined ? undefined : { mode });
    } catch (err) {
      // Made meanwhile by another process (two instances starting on one folder): fine.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(p).isDirectory()) throw err;
    }
  }
}
