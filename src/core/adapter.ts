import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Network } from './network.js';
import type { CommandMenu } from './command-menu.js';
import type { ConversationKey } from './conversation-key.js';
import type { InboundMessage, Platform, ReplyEvent } from './types.js';
import type { SharedTallyFactory, SharedWindowFactory } from './outbound-window.js';

/**
 * The contract between `src/` and `adapters/`. Adapters import only `src/core` (and
 * `adapters/shared`), so everything they need from the engine and the server is described here,
 * and every adapter provides the same parts: a key codec, a reply planner, the engine's commands
 * rendered for its platform, and a status for readiness checks. A new platform implements this
 * interface and passes the shared behaviour suite (test/adapters/contract/).
 */

/** One message's answer as the engine hands it to an adapter. */
export interface HandledMessage extends AsyncIterable<ReplyEvent> {
  /**
   * Resolves once the message is durably recorded — acknowledge the platform (return from the
   * SDK's handler) after that.
   */
  accepted?: Promise<void>;
  /**
   * Say that the consumer reports delivery itself: the message counts as answered only when the
   * returned function is called (after the final send, or a final failure), so a crash between
   * the engine storing a reply and the platform showing it leaves the reply to be sent by the next
   * process. Call before reading. Without it, reading the events to the end counts as delivered.
   */
  holdDelivery?(): () => void;
}

/** The part of the engine an adapter talks to. */
export interface MessageHandler {
  /** Hand over one message; the events are its answer. */
  handle(msg: InboundMessage): HandledMessage;
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

/**
 * A text sent to a platform conversation outside a live reply stream: a message the character
 * starts on its own (proactive), or a reply recovered after its process died.
 */
export interface OutboundText {
  key: ConversationKey;
  text: string;
  characterName: string;
  /**
   * The same for every attempt at sending this text, and for the live reply it stands in for:
   * the answered event's id (`InboundMessage.eventId`) for a recovered reply, `message:<id>` for a
   * proactive message. A platform that dedupes sends by a key (Discord's message nonce) shows the
   * text once however often it is sent; the others ignore it.
   */
  dedupeKey?: string | undefined;
  /**
   * An earlier attempt may have shown some or all of it: a recovered reply, a proactive message
   * sent again after a failure. A platform that can look for what that attempt left (Slack, by
   * the messages' metadata) takes it up instead of sending it all again.
   */
  maybeSent?: boolean | undefined;
  /**
   * Runs once, right before the text's first platform call — after any wait for room in the
   * outbound budget — and is awaited. When it rejects, nothing is sent and `deliver` rejects with
   * its error. The proactive scheduler records there that the message began leaving: one that
   * never did can be sent again by another instance, even where a send cannot be recognized.
   */
  beforeFirstCall?: (() => Promise<void>) | undefined;
}

/**
 * A conversation key ↔ the place on the platform where its messages go (a chat and topic, a
 * channel or thread). Replies and proactive messages both find their target through `decode`,
 * so "which chat is this" is answered in one place per platform. The encoded key strings are
 * stored in databases: `encode(decode(key))` must give back the same key.
 */
export interface KeyCodec<Target> {
  /** The conversation a platform target belongs to. */
  encode(target: Target): ConversationKey;
  /** Where to send for a conversation; throws an error naming the key when this platform cannot address it. */
  decode(key: ConversationKey): Target;
}

/**
 * A platform's side of one streamed reply (adapters/shared/streamed-reply.ts drives it): what to
 * call next, and calling it. `plan` only looks — it may be asked before a step is queued and again
 * when the step runs, so it must not use up anything (a tier slot, a message); `perform` does.
 */
export interface ReplyPlanner<A = unknown> {
  /**
   * The next API call that brings the platform closer to showing `text`; undefined when it shows
   * it already (or, for a preview, when the platform has no room for one now). `final` is false
   * for previews (which may show the text differently, e.g. as a draft) and true for the steps
   * that land the final text.
   */
  plan(text: string, final: boolean): A | undefined;
  /** Make that one call (inside the outbound budget) and remember what it shows now. */
  perform(action: A): Promise<void>;
  /** How many messages of the reply are visible: an abandoned reply finishes those. */
  readonly visible: number;
}

/** How an adapter receives: long polling, a webhook on our server, a gateway or socket it dials. */
export type AdapterMode = 'polling' | 'webhook' | 'gateway' | 'socket' | 'http';

/** An adapter's state, for readiness checks and an operator page. Times are ISO 8601. */
export interface AdapterStatus {
  platform: Platform;
  /** Receiving now: polling, the webhook set, the gateway or socket open. */
  connected: boolean;
  mode: AdapterMode;
  /** When the platform last delivered an event (a message, a command). */
  lastEventAt: string | null;
  /** The last failure the transport reported (the message only, never a payload). */
  lastError: { message: string; at: string } | null;
  /** 429 answers the adapter waited out. */
  rateLimited: number;
  /** Messages posted, edited or streamed (counted sends). */
  sent: number;
  /** Events being answered right now. */
  inFlight: number;
  /** The outbound budget's line: tasks waiting now, and how long started ones waited in total. */
  outbound?: { queued: number; started: number; waitedMs: number };
}

/** What every adapter factory receives besides its platform's config section. */
/** Exactly one holder in the cluster at a time; `run` keeps trying to become it. */
export interface Leadership {
  /**
   * Call `lead` whenever this instance becomes the leader; the signal aborts when leadership is
   * lost (or on stop), and `lead` must then stop what only the leader may do.
   */
  run(lead: (lost: AbortSignal) => void | Promise<void>): void;
  stop(): Promise<void>;
}

/**
 * Turns at something a platform allows a few times per window for a whole bot (Discord's
 * IDENTIFY: one per 5 s per bucket), taken by every instance of the bot together.
 */
export interface IdentifyGate {
  /**
   * Resolves when `bucket` may go: no other turn of the bucket started, in any instance, within
   * the gate's window. Rejects when `signal` aborts.
   */
  wait(bucket: number, signal?: AbortSignal): Promise<void>;
}

export interface AdapterDeps {
  /**
   * How the platform is reached: directly, or through the configured outbound proxy (the SDK's
   * agent, fetch or dispatcher from it). Absent: directly.
   */
  network?: Network;
  /**
   * Whom to ask before doing what only one instance of a bot may do at a time (Telegram's long
   * polling). Absent: this process is the only one.
   */
  leadership?: (name: string) => Leadership;
  /**
   * Where a bot-wide send limit is counted when several instances send for one bot (Telegram's
   * messages per second per bot, Discord's global rate). Absent: in this process.
   */
  sharedWindow?: SharedWindowFactory;
  /**
   * Where calls a platform limits per app rather than per chat are counted (Slack's method
   * tiers): in Redis when several instances make them, in the database for a single instance (so
   * they outlive a restart). Absent: in this process only.
   */
  sharedTally?: SharedTallyFactory;
  /**
   * Where a single instance keeps each chat's recent sends past a restart (its database), for the
   * chat windows longer than a restart takes: a chat's first send after a start then counts what
   * the run before sent into it, instead of drawing the platform's 429 to find out. Absent: a
   * chat's windows start empty in each process (with several instances, `sharedWindow` counts them).
   */
  chatTally?: SharedTallyFactory;
  /**
   * Where a bot's gateway session starts are paced when several instances connect for one bot
   * (Discord's IDENTIFY limit), `windowMs` apart per bucket. Absent: the SDK paces this process.
   */
  identifyGate?: (name: string, windowMs: number) => IdentifyGate;
  /**
   * Where to note a send in progress that the platform cannot be asked about after a crash (a
   * Slack native stream carries no metadata until it stops), kept in the database so the next
   * attempt at the same reply, in any process, finishes it. Absent: such a send may show twice.
   */
  sendMarks?: SendMarks;
  /**
   * Chats of `platform` with messages within the last `withinMs`, most recent first, each with
   * the id of the newest message handled there. An adapter whose platform does not deliver again
   * what it sent while no process listened (Discord's gateway) reads it to catch up at start.
   */
  recentChats?: (platform: Platform, withinMs: number) => Promise<RecentChat[]>;
  /**
   * How long the database has been unreachable in all, in ms (0 when it never was; always 0 on
   * SQLite): an adapter judging whether a message is stuck on its way to disk leaves out the time
   * its claim could only wait. Absent: taken as never.
   */
  storeDowntime?: () => number;
  /** The engine. */
  handler: MessageHandler;
  log: Log;
  /** The engine's commands (built from its registry), rendered in the platform's own menu. */
  commands: CommandMenu;
  /** Clock for the outbound budget and caches (tests pass their own). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** A chat that had messages lately, and the platform's id of the newest message handled in it. */
export interface RecentChat {
  key: ConversationKey;
  lastEventId: string;
}

/** Notes by key, kept across restarts (the latest `put` of a key wins); each adapter prefixes its keys with its platform. */
export interface SendMarks {
  put(key: string, value: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Every note whose key starts with `prefix`, by key. */
  list(prefix: string): Promise<Array<{ key: string; value: string }>>;
  forget(key: string): Promise<void>;
}

export interface PlatformAdapter<Target = unknown> {
  readonly platform: Platform;
  /** Conversation keys ↔ this platform's send targets. */
  readonly keys: KeyCodec<Target>;
  /** Connect (poll, gateway, socket); resolves once the adapter is receiving. */
  start(): Promise<void>;
  /** Stop taking input and close connections; in-flight replies get a deadline to land. */
  stop(): Promise<void>;
  /** Routes to mount on the shared HTTP server (webhook modes). */
  routes?(): RawHttpRoute[];
  /** Send a message the engine produced on its own (proactive) through the adapter's outbound budget. */
  deliver(msg: OutboundText): Promise<void>;
  /**
   * True when a text `deliver`ed again with the same `dedupeKey` (and `maybeSent`) shows once
   * (Discord's nonce, Slack's lookup): a send a dead process may or may not have finished is then
   * sent again rather than given up.
   */
  readonly sendsOnceByKey?: boolean;
  /** A planner for one reply shown at `target`, as replies and `deliver` use it. */
  planner(target: Target): ReplyPlanner;
  /** Resolves once every event handed over so far has been answered. */
  settled(): Promise<void>;
  status(): AdapterStatus;
}
