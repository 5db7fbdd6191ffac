import { decodeKey } from '../core/conversation-key.js';
import type { PlatformAdapter } from '../core/adapter.js';
import type { Character, Conversation, Platform, StoredMessage } from '../core/types.js';
import { CharbridgeError } from '../core/errors.js';

/**
 * Where a proactive message goes once it is stored. Throwing means "retry later"; `retry`: an
 * earlier attempt failed (it may still have landed); `beforeFirstCall`: awaited right before the
 * first platform call (`OutboundText.beforeFirstCall`), nothing is sent when it rejects.
 */
export interface ProactiveTarget {
  deliver(conversation: Conversation, character: Character, message: StoredMessage, o?: DeliveryOptions): Promise<void>;
  /** Whether a message to `platform` that may already have arrived can be sent again and still show once. */
  sendsOnceByKey?(platform: Platform): boolean;
}

export interface DeliveryOptions {
  retry?: boolean | undefined;
  beforeFirstCall?: (() => Promise<void>) | undefined;
}

/**
 * Routes a proactive message to the platform adapter that owns the conversation (through its
 * outbound budget), or to the API sink (updates feed and webhook) for API conversations.
 */
export class DeliveryRouter implements ProactiveTarget {
  private adapters = new Map<Platform, PlatformAdapter>();
  constructor(private api?: ProactiveTarget, adapters: PlatformAdapter[] = []) {
    this.addAdapters(adapters);
  }

  /** API sessions (the feed holds a message once) and adapters that dedupe sends by key. */
  sendsOnceByKey(platform: Platform): boolean {
    return platform === 'api' || this.adapters.get(platform)?.sendsOnceByKey === true;
  }

  /** Route platform conversations to these adapters (added once they are built). */
  addAdapters(adapters: PlatformAdapter[]): void {
    for (const a of adapters) this.adapters.set(a.platform, a);
  }

  async deliver(conversation: Conversation, character: Character, message: StoredMessage, o: DeliveryOptions = {}): Promise<void> {
    if (conversation.platform === 'api') {
      if (!this.api) throw new CharbridgeError('NO_TARGET', 'No API delivery target configured');
      return this.api.deliver(conversation, character, message);
    }
    const adapter = this.adapters.get(conversation.platform);
    if (!adapter || !conversation.scopeKey) {
      throw new CharbridgeError('NO_TARGET', `No running ${conversation.platform} adapter can deliver to ${conversation.id}`);
    }
    await adapter.deliver({ key: decodeKey(conversation.scopeKey), text: message.content, characterName: character.name, dedupeKey: `message:${message.id}`, maybeSent: o.retry, beforeFirstCall: o.beforeFirstCall });
  }
}
