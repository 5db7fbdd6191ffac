import { randomBytes } from 'node:crypto';

/**
 * Public ids carry a type prefix (`conv_`, `msg_`, `char_`) so a wrong id pasted into the
 * wrong endpoint is recognisable in logs, and 16 random bytes so ids are unguessable.
 */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** Owner id of what the admin key creates (characters, API sessions); it has no api_keys row. */
export const ADMIN_OWNER = 'admin';
