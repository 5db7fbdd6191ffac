import type { Character, Conversation, StoredMessage } from '../core/types.js';
import type { ProactiveTarget } from '../scheduler/index.js';
import { proactiveEventId, type Store } from '../store/index.js';
import type { WebhookSender } from './webhooks.js';

/**
 * Delivers proactive messages of API conversations: an entry in the key's updates feed
 * (`kind: "proactive"`) and, when the key has a webhook, a `proactive_message` event. Safe to
 * repeat for the same message (the scheduler retries deliveries): the feed entry is written once
 * and the webhook event id is derived from the message id.
 */
export class ApiProactiveTarget implements ProactiveTarget {
  constructor(private store: Store, private webhooks: WebhookSender) {}

  async deliver(conv: Conversation, character: Character, message: StoredMessage): Promise<void> {
    const apiKeyId = conv.ownerId;
    if (!apiKeyId) return;
    const msg = { id: message.id, content: message.content, sentAt: message.createdAt };
    // Once, however often a retried delivery gets here: the feed holds a message at most once.
    await this.store.updates.append({ apiKeyId, conversationId: conv.id, characterId: character.id, kind: 'proactive', message: msg });
    const key = await this.store.apiKeys.get(apiKeyId);
    if (key?.webhookUrl && key.webhookSecret && !key.webhookDisabled) {
      await this.webhooks.enqueue(apiKeyId, 'proactive_message', proactiveEventId(message.id), {
        sessionId: conv.id,
        characterId: character.id,
        characterName: character.name,
        message: msg,
      });
    }
  }
}
