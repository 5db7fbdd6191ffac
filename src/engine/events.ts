import type { DB } from '../store/index.js';
import type { EngineDeps, StoredMessageEvent } from './deps.js';

/** Run every writer for a message being stored, inside its transaction (`tx`), in order. */
export async function writeAlongside(deps: Pick<EngineDeps, 'writers'>, tx: DB, e: StoredMessageEvent): Promise<void> {
  for (const writer of deps.writers) await writer(tx, e);
}

/** Tell every subscriber about a stored message, in order; their failures are logged, never thrown. */
export async function announce(deps: Pick<EngineDeps, 'listeners' | 'log'>, e: StoredMessageEvent): Promise<void> {
  for (const listener of deps.listeners) {
    try {
      await listener(e);
    } catch (err) {
      deps.log.warn({ err, conversationId: e.conversation.id }, 'a stored-message subscriber failed');
    }
  }
}
