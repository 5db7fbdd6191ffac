/**
 * A local Slack for tests: Web API, signed Events API / slash-command deliveries and Socket
 * Mode on one 127.0.0.1 server, so the real Bolt `App` runs unmodified against it.
 *
 * @example
 * const fake = await startFakeSlack();
 * const app = new App({ token: fake.botToken, signingSecret: fake.signingSecret,
 *   clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 2, minTimeout: 0, maxTimeout: 10 } } });
 * const server = (await app.start(0)) as Server;
 * await fake.postEvent(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`,
 *   appMention({ channel: 'C1', user: 'U1', text: `<@${fake.botUserId}> hi` }));
 * await fake.waitFor(() => fake.channelMessages('C1').length === 1);
 * await app.stop(); await fake.close();
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  eventCallback,
  newEventId,
  postSigned,
  slashCommandFields,
  type DeliveryOptions,
  type DeliveryResult,
  type SlackEvent,
  type SlackIdentity,
  type SlashCommandInput,
} from './slack-events.js';
import { resolveLimits, type SlackLimits } from './slack-limits.js';
import { FakeSocketMode, type EnvelopeOptions, type SocketAck } from './slack-socket.js';
import { FakeWebApi, type ApiCall, type MessageView, type SlackUser } from './slack-web.js';

export { appMention, botMessage, channelMessage, imMessage, nextTs, slackSignature } from './slack-events.js';
export type { BotMessageInput, DeliveryOptions, DeliveryResult, MessageInput, SlackEvent, SlashCommandInput } from './slack-events.js';
export { DEFAULT_SLACK_LIMITS, type RateLimit, type SlackLimits } from './slack-limits.js';
export type { ApiCall, MessageView, SlackUser } from './slack-web.js';
export type { SocketAck } from './slack-socket.js';

export interface FakeSlackOptions {
  /** Per-method sliding-window limits merged over `DEFAULT_SLACK_LIMITS`; `null` removes one. Scale them down in tests. */
  limits?: SlackLimits;
  /** Clock for rate limits, message timestamps and call records; inject one to step time instead of sleeping. */
  now?: () => number;
  /** `false` makes chat.startStream/appendStream/stopStream answer `unknown_method`, as on workspaces without streaming. */
  streamingSupported?: boolean;
  /** Off by default; set (e.g. 300_000) to have old streams refuse appends with `message_not_in_streaming_state`. */
  streamLifetimeMs?: number;
  signingSecret?: string;
}

/** Options for one Events API delivery. */
export interface PostEventOptions extends DeliveryOptions {
  /** Reuse an event id to model Slack's redelivery of the same event (pair with `retryNum`). */
  eventId?: string;
}

export interface FakeSlack {
  /** `http://127.0.0.1:PORT/api/` — pass as `clientOptions.slackApiUrl`. */
  apiUrl: string;
  /** `http://127.0.0.1:PORT`, for building other URLs. */
  origin: string;
  botToken: string;
  /** App-level token (`xapp-…`), the only token apps.connections.open accepts. */
  appToken: string;
  signingSecret: string;
  teamId: string;
  appId: string;
  botUserId: string;
  botId: string;
  /** Every Web API request in arrival order, 429s included. */
  calls: ApiCall[];
  /** How many requests were refused with 429 — an adapter that paces itself keeps this at 0. */
  readonly tooManyRequests: number;
  /** Bodies POSTed to slash-command `response_url`s (what `respond()` sent). */
  responses: Array<{ url: string; body: any }>;
  ephemerals: Array<{ channel: string; user: string; text: string; message_ts: string }>;
  /** Acks received over Socket Mode. */
  socketAcks: SocketAck[];
  /** Socket Mode connections open now / accepted ever. */
  readonly socketConnections: number;
  readonly socketConnects: number;
  setUser(id: string, patch: Partial<Omit<SlackUser, 'id'>>): void;
  setChannel(id: string, patch: Record<string, unknown>): void;
  /** Current state of the bot's messages (after edits and stream appends); see `FakeWebApi.channelMessages`. */
  channelMessages(channel: string, threadTs?: string): MessageView[];
  /** The user pressed stop on a streaming message. */
  stopStreamByUser(channel: string, ts: string): void;
  /** Messages the bot posted before the test began (in `threadTs`, or at the top, from `atMs`), outside the rate limits. */
  seedMessages(channel: string, texts: string[], o?: { threadTs?: string | undefined; atMs?: number | undefined }): void;
  /** The next call of `method` answers `{ok:false, error}`. */
  failNext(method: string, error: string): void;
  /** The next call of `method` is refused with HTTP 429 and `Retry-After` (seconds), whatever the limits say. */
  rateLimitNext(method: string, retryAfterSeconds?: number): void;
  /**
   * The next call of `method` is carried out (a post is posted) but its answer is held until
   * `release` (a process that dies with the call in flight never hears it). `arrived` resolves
   * once the call has been carried out.
   */
  holdNextAnswer(method: string): { arrived: Promise<void>; release(): void };
  /** Deliver an Events API `event_callback` over HTTP, signed; returns the status, body and event id used. */
  postEvent(url: string, event: SlackEvent, opts?: PostEventOptions): Promise<DeliveryResult & { eventId: string }>;
  postSlashCommand(url: string, input: SlashCommandInput, opts?: DeliveryOptions): Promise<DeliveryResult & { responseUrl: string }>;
  postUrlVerification(url: string, challenge?: string): Promise<DeliveryResult>;
  /** Push an `events_api` envelope over Socket Mode; returns its `envelope_id`. */
  socketEvent(event: SlackEvent, opts?: EnvelopeOptions & { eventId?: string }): string;
  socketSlashCommand(input: SlashCommandInput): string;
  disconnectSocket(reason?: string): void;
  /** Resolves with the ack for `envelopeId` once it arrives. */
  waitForAck(envelopeId: string, timeoutMs?: number): Promise<SocketAck>;
  /** Poll `pred` every 10 ms; rejects after `timeoutMs` (default 3000). */
  waitFor(pred: () => boolean, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once every Socket Mode envelope pushed so far is acked and no Web API call or
   * response_url post is in flight: what a test waits for (with the adapter's own `settled()`)
   * before asserting that something did NOT happen.
   */
  idle(timeoutMs?: number): Promise<void>;
  /** Close sockets (gracefully, then forcibly) and the server. Stop the Bolt app first. */
  close(): Promise<void>;
}

/** Start the fake on an ephemeral port. Start it before constructing the App: Bolt calls auth.test in its constructor. */
export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const now = opts.now ?? Date.now;
  const identity: SlackIdentity = {
    teamId: 'T0FAKETEAM',
    teamDomain: 'charbridge-fake',
    appId: 'A0FAKEAPP',
    botUserId: 'U0FAKEBOT',
    botId: 'B0FAKEBOT',
    signingSecret: opts.signingSecret ?? 'fake-signing-secret-0123456789abcdef',
    verificationToken: 'fakeVerificationToken',
  };
  const botToken = 'xoxb-0000-fake-bot-token';
  const appToken = 'xapp-1-A0FAKEAPP-0000-fake';
  let origin = '';
  const socket = new FakeSocketMode(identity.appId, () => origin);
  const web = new FakeWebApi({
    identity,
    botToken,
    appToken,
    limits: resolveLimits(opts.limits),
    now,
    streamingSupported: opts.streamingSupported ?? true,
    streamLifetimeMs: opts.streamLifetimeMs,
    socketUrl: () => socket.issueUrl(),
  });
  const responses: FakeSlack['responses'] = [];
  /** Answers to hold, per method, in order (`holdNextAnswer`). */
  const held = new Map<string, Array<{ arrived(): void; released: Promise<void> }>>();
  let responseSeq = 0;

  let busy = 0;
  const server = http.createServer((req, res) => {
    busy++;
    res.once('close', () => busy--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'POST' && path.startsWith('/api/')) {
        const method = decodeURIComponent(path.slice(5));
        const r = web.handle(method, req.headers, raw);
        const hold = held.get(method)?.shift();
        if (hold) {
          hold.arrived();
          return void hold.released.then(() => send(r.status, r.body, r.headers));
        }
        return send(r.status, r.body, r.headers);
      }
      if (req.method === 'POST' && path.startsWith('/response/')) {
        let body: unknown = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          body = Object.fromEntries(new URLSearchParams(raw));
        }
        responses.push({ url: `${origin}${path}`, body });
        return send(200, { ok: true });
      }
      send(404, { ok: false, error: 'not_found' });
    });
  });
  server.on('upgrade', (req, sock, head) => socket.handleUpgrade(req, sock, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const newResponseUrl = () => `${origin}/response/${++responseSeq}`;
  const waitFor = async (pred: () => boolean, timeoutMs = 3000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`fake Slack: waitFor timed out after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  return {
    apiUrl: `${origin}/api/`,
    origin,
    botToken,
    appToken,
    signingSecret: identity.signingSecret,
    teamId: identity.teamId,
    appId: identity.appId,
    botUserId: identity.botUserId,
    botId: identity.botId,
    calls: web.calls,
    get tooManyRequests() {
      return web.tooManyRequests;
    },
    responses,
    ephemerals: web.ephemerals,
    socketAcks: socket.acks,
    get socketConnections() {
      return socket.connections;
    },
    get socketConnects() {
      return socket.connects;
    },
    setUser: (id, patch) => web.setUser(id, patch),
    setChannel: (id, patch) => web.setChannel(id, patch),
    channelMessages: (channel, threadTs) => web.channelMessages(channel, threadTs),
    stopStreamByUser: (channel, ts) => web.stopStreamByUser(channel, ts),
    seedMessages: (channel, texts, o) => web.seedMessages(channel, texts, o),
    failNext: (method, error) => web.failNext(method, error),
    rateLimitNext: (method, retryAfterSeconds) => web.rateLimitNext(method, retryAfterSeconds),
    holdNextAnswer: (method) => {
      let arrived!: () => void;
      let release!: () => void;
      const hold = { arrived: new Promise<void>((r) => (arrived = r)), released: new Promise<void>((r) => (release = r)) };
      held.set(method, [...(held.get(method) ?? []), { arrived, released: hold.released }]);
      return { arrived: hold.arrived, release };
    },
    async postEvent(url, event, o = {}) {
      const eventId = o.eventId ?? newEventId();
      const body = JSON.stringify(eventCallback(identity, event, eventId, now()));
      return { ...(await postSigned(url, body, 'application/json', identity.signingSecret, o)), eventId };
    },
    async postSlashCommand(url, input, o = {}) {
      const responseUrl = newResponseUrl();
      const body = new URLSearchParams(slashCommandFields(identity, input, responseUrl)).toString();
      return { ...(await postSigned(url, body, 'application/x-www-form-urlencoded', identity.signingSecret, o)), responseUrl };
    },
    postUrlVerification(url, challenge = 'fake-challenge-token') {
      const body = JSON.stringify({ token: identity.verificationToken, challenge, type: 'url_verification' });
      return postSigned(url, body, 'application/json', identity.signingSecret);
    },
    socketEvent: (event, o = {}) => socket.send('events_api', eventCallback(identity, event, o.eventId, now()), o),
    socketSlashCommand: (input) => socket.send('slash_commands', slashCommandFields(identity, input, newResponseUrl())),
    disconnectSocket: (reason) => socket.disconnectAll(reason),
    async waitForAck(envelopeId, timeoutMs) {
      await waitFor(() => socket.acks.some((a) => a.envelope_id === envelopeId), timeoutMs);
      return socket.acks.find((a) => a.envelope_id === envelopeId) as SocketAck;
    },
    waitFor,
    idle: (timeoutMs) => waitFor(() => busy === 0 && [...socket.sent].every((id) => socket.acks.some((a) => a.envelope_id === id)), timeoutMs),
    async close() {
      await socket.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
