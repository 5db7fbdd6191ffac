import { randomBytes } from 'node:crypto';

const ID_BYTES = 12;
let pool = Buffer.alloc(0);
let poolAt = 0;

/**
 * Public ids carry a type prefix (`conv_`, `msg_`, `char_`) so a wrong id pasted into the
 * wrong endpoint is recognisable in logs, and 12 random bytes (96 bits) so ids are unguessable.
 */
export function newId(prefix: string): string {
  // Drawn from a pool of CSPRNG bytes (as crypto.randomUUID does): one system call per 256 ids
  // instead of one per id, several of which every chat turn takes.
  if (poolAt + ID_BYTES > pool.length) {
    pool = randomBytes(ID_BYTES * 256);
    poolAt = 0;
  }
  const id = pool.toString('base64url', poolAt, poolAt + ID_BYTES);
  poolAt += ID_BYTES;
  return `${prefix}_${id}`;
}

/** Owner id of what the admin key creates (characters, API sessions); it has no api_keys row. */
export const ADMIN_OWNER = 'admin';
