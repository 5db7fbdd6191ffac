import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConversationKey } from './conversation-key.js';
import type { InboundMessage, Platform, ReplyEvent } from './types.js';

/**
 * The contract between `src/` and `adapters/`. Adapters import only `src/core` (and
 * `adapters/shared`), so everything they need from the engine and the server is described here.
 */

/** The part of the engine an adapter talks to. */
export interface MessageHandler {
  /**
   * Hand over one message; the events are its answer. `accepted` resolves once the message is
   * durably recorded — acknowledge the platform (return from the SDK's handler) after that.
   */
  handle(msg: InboundMessage): AsyncIterable<ReplyEvent> & { accepted?: Promise<void> };
}

/** The pino-compatible logging surface adapters use. */
export interface Log {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child?(bindings: object): Log;
}

/**
 * A route an adapter needs on our HTTP server (Telegram's webhook, Slack's events), served in
 * node's req/res form that the platform SDKs expect. `rawBody` is the exact bytes received, for
 * signature checks.
 */
export interface RawHttpRoute {
  method: 'POST';
  path: string;
  handle(req: IncomingMessage & { rawBody: Buffer; body?: unknown }, res: ServerResponse): Promise<void> | void;
}

/** A message the character starts on its own (proactive), to be sent to a platform conversation. */
export interface OutboundText {
  key: ConversationKey;
  text: string;
  characterName: string;
}

export interface PlatformAdapter {
  readonly platform: Platform;
  /** Connect (poll, gateway, socket); resolves once the adapter is receiving. */
  start(): Promise<void>;
  /** Stop taking input and close connections; in-flight sends may finish. */
  stop(): Promise<void>;
  /** Routes to mount on the shared HTTP server (webhook modes). */
  routes?(): RawHttpRoute[];
  /** Send a message the engine produced on its own (proactive) through the adapter's outbound budget. */
  deliver?(msg: OutboundText): Promise<void>;
}
