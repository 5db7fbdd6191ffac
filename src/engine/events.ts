import type { EngineDeps, StoredMessageEvent } from './deps.js';

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
