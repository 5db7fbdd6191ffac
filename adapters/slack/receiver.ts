/**
 * Slack's HTTP deliveries (Events API, slash commands, interactivity) arriving on OUR HTTP
 * server at `/slack/events`, handed to Bolt as a custom Receiver — instead of Bolt's own
 * HTTPReceiver, which wants to own a port. Fastify has already read the body, so this works on
 * `rawBody`: the exact bytes Slack signed.
 *
 * It satisfies Bolt's `Receiver` interface structurally (`init(app)`, `start`, `stop`), and takes
 * Bolt's request verifier through transport.ts, which stays the only importer of the SDK.
 *
 * Security: every request must carry a valid v0 signature and a timestamp within 5 minutes, else
 * 401 — logged with the reason and the peer address, never with the body (it may hold user text).
 * Bolt's `verifySlackRequest` checks the signature (constant time) and refuses old timestamps;
 * a timestamp from the future is refused here, since a replayed request could otherwise be
 * prepared ahead of time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Log } from '../../src/core/adapter.js';
import { verifySlackRequest } from './transport.js';

/** What Bolt's `App.processEvent` takes (the `ReceiverEvent` shape). */
export interface ReceivedEvent {
  body: Record<string, unknown>;
  ack: (response?: unknown) => Promise<void>;
  retryNum?: number;
  retryReason?: string;
}

/** The part of Bolt's App the receiver drives. */
export interface EventProcessor {
  processEvent(event: ReceivedEvent): Promise<void>;
}

/** How far a request timestamp may be from our clock (Slack's recommendation). */
export const MAX_SKEW_SECONDS = 5 * 60;

export type RawRequest = IncomingMessage & { rawBody: Buffer };

/** Why a request was refused, or null when it is genuine. Exported for unit tests. */
export function verifySlackSignature(
  signingSecret: string,
  headers: IncomingMessage['headers'],
  rawBody: Buffer,
  nowMs: number,
): null | 'missing headers' | 'stale timestamp' | 'bad signature' {
  const sig = headers['x-slack-signature'];
  const tsHeader = headers['x-slack-request-timestamp'];
  if (typeof sig !== 'string' || typeof tsHeader !== 'string' || !/^\d+$/.test(tsHeader)) return 'missing headers';
  const ts = Number(tsHeader);
  if (ts - nowMs / 1000 > MAX_SKEW_SECONDS) return 'stale timestamp';
  try {
    verifySlackRequest({
      signingSecret,
      body: rawBody.toString('utf8'),
      headers: { 'x-slack-signature': sig, 'x-slack-request-timestamp': ts },
      nowMilliseconds: nowMs,
    });
    return null;
  } catch (err) {
    return /stale/i.test(err instanceof Error ? err.message : '') ? 'stale timestamp' : 'bad signature';
  }
}

/**
 * JSON (events) or form bodies (slash commands; interactivity sends JSON in a `payload` field).
 * An event callback must carry its `event` as an object: Bolt reads its fields unchecked, so
 * anything else (even correctly signed) is refused here rather than failing inside Bolt.
 */
export function parseSlackBody(contentType: string | undefined, raw: Buffer): Record<string, unknown> {
  const text = raw.toString('utf8');
  if (contentType?.startsWith('application/x-www-form-urlencoded')) {
    const form = Object.fromEntries(new URLSearchParams(text));
    if (typeof form.payload === 'string') return asObject(JSON.parse(form.payload));
    return form;
  }
  const body = asObject(JSON.parse(text));
  if ((body.type === 'event_callback' || 'event' in body) && !isObject(body.event)) throw new SyntaxError('event is not an object');
  if (workspaceIds(body).some(namesAnObjectMember)) throw new SyntaxError('a workspace id names an Object member');
  const odd = unreadableByBolt(body);
  if (odd) throw new SyntaxError(odd);
  return body;
}

/**
 * Bolt routes a body by reading fields Slack always sends as objects (`'id' in event.channel`,
 * `'channel' in event.item`, `event.user.id` when the user is not a string,
 * `event.subteam.created_by`, `body.channel.id`, `body.user.id`, `body.view.app_installed_team_id`,
 * `authorizations[0].is_enterprise_install`) and throws, answering 500, when one is null or a
 * primitive. Slack never sends such a body.
 */
function unreadableByBolt(body: Record<string, unknown>): string | undefined {
  const event = body.event;
  if (isObject(event)) {
    if ('channel' in event && typeof event.channel !== 'string' && !isObject(event.channel)) return 'event.channel is neither a string nor an object';
    if ('user' in event && typeof event.user !== 'string' && !isObject(event.user)) return 'event.user is neither a string nor an object';
    if ('item' in event && !isObject(event.item)) return 'event.item is not an object';
    if ('subteam' in event && !isObject(event.subteam)) return 'event.subteam is not an object';
  } else {
    if ('user' in body && !isObject(body.user)) return 'user is not an object';
    if ('view' in body && !isObject(body.view)) return 'view is not an object';
  }
  if (body.channel === null) return 'channel is null';
  if (Array.isArray(body.authorizations) && body.authorizations[0] !== undefined && !isObject(body.authorizations[0])) return 'authorizations[0] is not an object';
  return undefined;
}

/** Where Bolt reads the workspace and enterprise ids it keys its per-workspace Web API clients by. */
function workspaceIds(body: Record<string, unknown>): unknown[] {
  const at = (v: unknown, k: string): unknown => (isObject(v) ? v[k] : undefined);
  const first = Array.isArray(body.authorizations) ? body.authorizations[0] : undefined;
  return [
    body.team_id, body.enterprise_id, at(first, 'team_id'), at(first, 'enterprise_id'), at(body.team, 'id'), at(body.team, 'enterprise_id'),
    at(body.enterprise, 'id'), at(body.user, 'team_id'), at(body.view, 'app_installed_team_id'),
  ];
}

/**
 * Bolt looks a workspace's clients up as `clients[teamId]`, so an id such as `__proto__` or
 * `constructor` finds Object's own members and throws. Slack's ids are never such names.
 */
function namesAnObjectMember(id: unknown): boolean {
  return typeof id === 'string' && id in Object.prototype;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asObject(v: unknown): Record<string, unknown> {
  if (!isObject(v)) throw new SyntaxError('body is not an object');
  return v;
}

/**
 * Bolt Receiver for HTTP mode. `handle` is mounted as a RawHttpRoute; Bolt calls `init(app)`
 * when the App is built (at adapter start), and until then — or after `stop()` — requests get a
 * 503 so Slack redelivers them later instead of losing them.
 */
export class SignedHttpReceiver {
  private app: EventProcessor | undefined;
  private running = false;

  constructor(private readonly opts: { signingSecret: string; log: Log; now?: () => number }) {}

  init(app: EventProcessor): void {
    this.app = app;
  }

  async start(): Promise<void> {
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
  }

  /** The node-style request handler for `POST /slack/events`. */
  readonly handle = async (req: RawRequest, res: ServerResponse): Promise<void> => {
    const raw = Buffer.isBuffer(req.rawBody) ? req.rawBody : Buffer.alloc(0);
    const contentType = req.headers['content-type'];
    // Slack's certificate check is unsigned and carries nothing to act on.
    if (contentType?.startsWith('application/x-www-form-urlencoded') && new URLSearchParams(raw.toString('utf8')).get('ssl_check') === '1') {
      return void res.writeHead(200).end();
    }
    const refused = verifySlackSignature(this.opts.signingSecret, req.headers, raw, (this.opts.now ?? Date.now)());
    if (refused) {
      this.opts.log.warn({ reason: refused, ip: req.socket.remoteAddress, bytes: raw.length }, 'slack request refused');
      return void res.writeHead(401, { 'content-type': 'text/plain' }).end('invalid request signature');
    }
    let body: Record<string, unknown>;
    try {
      body = parseSlackBody(contentType, raw);
    } catch {
      this.opts.log.warn({ contentType, bytes: raw.length }, 'slack request body could not be parsed');
      return void res.writeHead(400).end();
    }
    if (body.type === 'url_verification') {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ challenge: body.challenge }));
    }
    const app = this.app;
    if (!app || !this.running) return void res.writeHead(503, { 'retry-after': '5' }).end();

    let acked = false;
    const ack = async (response?: unknown): Promise<void> => {
      if (acked) return;
      acked = true;
      if (response === undefined || response === '') res.writeHead(200).end();
      else if (typeof response === 'string') res.writeHead(200, { 'content-type': 'text/plain' }).end(response);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(response));
    };
    const retryHeader = req.headers['x-slack-retry-num'];
    const retryReason = req.headers['x-slack-retry-reason'];
    try {
      await app.processEvent({
        body,
        ack,
        ...(typeof retryHeader === 'string' ? { retryNum: Number.parseInt(retryHeader, 10) } : {}),
        ...(typeof retryReason === 'string' ? { retryReason } : {}),
      });
      // Nothing listened (an interaction we do not handle): answer anyway so Slack does not retry.
      await ack();
    } catch (err) {
      this.opts.log.error({ err, type: body.type }, 'slack request handling failed');
      if (!acked) {
        acked = true;
        res.writeHead(500).end();
      }
    }
  };
}
