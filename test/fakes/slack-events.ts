/**
 * Inbound half of the fake Slack: the payloads Slack sends to an app (Events API
 * `event_callback` envelopes, slash-command forms, URL verification) and the request
 * signing Bolt checks. Pure builders plus one tiny HTTP client; the fake server in
 * `slack.ts` binds them to its identity.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';

/** Who the fake workspace and app are. Shared by the Web API, the signer and Socket Mode so ids agree everywhere. */
export interface SlackIdentity {
  teamId: string;
  teamDomain: string;
  appId: string;
  /** The bot's user id (`U…`): what `auth.test` returns as `user_id` and what mentions look like (`<@U…>`). */
  botUserId: string;
  /** The bot id (`B…`) Slack stamps on the bot's own messages; Bolt's ignoreSelf drops events carrying it. */
  botId: string;
  signingSecret: string;
  /** The deprecated verification token Slack still puts in every payload's `token` field. */
  verificationToken: string;
}

/** An Events API inner event (`app_mention`, `message`, …): loose because Slack adds fields freely. */
export type SlackEvent = { type: string } & Record<string, unknown>;

let lastMicros = 0;

/**
 * A Slack message timestamp such as `"1700000000.000100"`. Slack uses `ts` as the message id,
 * so it must be unique and increasing across everything this process generates (inbound
 * events and the bot's own posts), even when the clock stands still or a test clock runs
 * behind the real one.
 */
export function nextTs(nowMs: number = Date.now()): string {
  const micros = Math.max(Math.floor(nowMs * 1000), lastMicros + 1);
  lastMicros = micros;
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
}

/** Slack event ids look like `Ev0ABCDEF123`; Slack reuses the id on retries, which is what a dedupe step keys on. */
export function newEventId(): string {
  return `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
}

/** Fields every user-authored message event takes. `ts` defaults to a fresh timestamp. */
export interface MessageInput {
  channel: string;
  user: string;
  text: string;
  ts?: string;
  thread_ts?: string;
  /** Team of the author; defaults to the fake's usual `T0FAKETEAM`. */
  team?: string;
}

const DEFAULT_TEAM = 'T0FAKETEAM';

function userMessage(type: string, i: MessageInput, channelType?: string): SlackEvent {
  const ts = i.ts ?? nextTs();
  return {
    type,
    client_msg_id: randomUUID(),
    user: i.user,
    text: i.text,
    ts,
    team: i.team ?? DEFAULT_TEAM,
    channel: i.channel,
    event_ts: ts,
    ...(i.thread_ts !== undefined ? { thread_ts: i.thread_ts } : {}),
    ...(channelType !== undefined ? { channel_type: channelType } : {}),
  };
}

/** `app_mention`: sent for channel messages that mention the bot (never for DMs, which arrive as `message.im`). */
export function appMention(i: MessageInput): SlackEvent {
  return userMessage('app_mention', i);
}

/** `message` with `channel_type:'im'` (the `message.im` subscription): a DM to the bot. */
export function imMessage(i: MessageInput): SlackEvent {
  return userMessage('message', i, 'im');
}

/**
 * `message` in a public (`C…` → `channel`) or private (`G…` → `group`) channel: what the
 * `message.channels` / `message.groups` subscriptions deliver, mention or not.
 */
export function channelMessage(i: MessageInput): SlackEvent {
  return userMessage('message', i, i.channel.startsWith('G') ? 'group' : 'channel');
}

/** Input for a message written by a bot (another app, or ours when testing ignore-self). */
export interface BotMessageInput {
  channel: string;
  text: string;
  /** The posting bot's `B…` id; pass the fake's `botId` to fake an echo of our own post. */
  bot_id: string;
  /** Modern app bots also carry their bot user id; omitted for legacy bots. */
  user?: string;
  /** `true` → legacy shape with `subtype:'bot_message'` and no `user` (integrations, webhooks). */
  legacy?: boolean;
  ts?: string;
  thread_ts?: string;
  channel_type?: 'im' | 'channel' | 'group';
}

/**
 * A bot-authored `message`. Modern apps post with `bot_id` + `user` + `bot_profile` and no
 * subtype; legacy integrations use `subtype:'bot_message'`. Adapters must ignore both kinds
 * (or at least their own) to avoid bot loops, so tests need both shapes.
 */
export function botMessage(i: BotMessageInput): SlackEvent {
  const ts = i.ts ?? nextTs();
  const channelType = i.channel_type ?? (i.channel.startsWith('D') ? 'im' : i.channel.startsWith('G') ? 'group' : 'channel');
  const common = {
    type: 'message',
    text: i.text,
    ts,
    channel: i.channel,
    event_ts: ts,
    channel_type: channelType,
    bot_id: i.bot_id,
    ...(i.thread_ts !== undefined ? { thread_ts: i.thread_ts } : {}),
  };
  if (i.legacy === true) return { ...common, subtype: 'bot_message', username: 'legacy-bot' };
  return {
    ...common,
    ...(i.user !== undefined ? { user: i.user } : {}),
    app_id: 'A0OTHERAPP',
    team: DEFAULT_TEAM,
    bot_profile: { id: i.bot_id, app_id: 'A0OTHERAPP', name: 'other-bot', deleted: false, team_id: DEFAULT_TEAM },
  };
}

/** The `event_callback` envelope Slack wraps every Events API event in (HTTP body or Socket Mode payload). */
export function eventCallback(id: SlackIdentity, event: SlackEvent, eventId: string = newEventId(), nowMs = Date.now()) {
  return {
    token: id.verificationToken,
    team_id: id.teamId,
    context_team_id: id.teamId,
    context_enterprise_id: null,
    api_app_id: id.appId,
    event,
    type: 'event_callback' as const,
    event_id: eventId,
    event_time: Math.floor(nowMs / 1000),
    authorizations: [
      { enterprise_id: null, team_id: id.teamId, user_id: id.botUserId, is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${Buffer.from(`${id.teamId}:${eventId}`).toString('base64url')}`,
  };
}

/** Slash-command fields a test sets; the rest default to the fake's identity. */
export interface SlashCommandInput {
  command: string;
  text?: string;
  user_id: string;
  channel_id: string;
  user_name?: string;
  channel_name?: string;
  team_id?: string;
  trigger_id?: string;
}

/** The slash-command form Slack posts (all values are strings; `response_url` is where `respond()` goes). */
export function slashCommandFields(id: SlackIdentity, i: SlashCommandInput, responseUrl: string): Record<string, string> {
  return {
    token: id.verificationToken,
    team_id: i.team_id ?? id.teamId,
    team_domain: id.teamDomain,
    channel_id: i.channel_id,
    channel_name: i.channel_name ?? (i.channel_id.startsWith('D') ? 'directmessage' : 'general'),
    user_id: i.user_id,
    user_name: i.user_name ?? i.user_id.toLowerCase(),
    command: i.command,
    text: i.text ?? '',
    api_app_id: id.appId,
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: i.trigger_id ?? `${Date.now()}.${randomBytes(4).toString('hex')}`,
  };
}

/** `v0=` + hex HMAC-SHA256(secret, `v0:<ts>:<raw body>`): exactly what Bolt's verifySlackRequest recomputes. */
export function slackSignature(signingSecret: string, timestampSec: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${rawBody}`).digest('hex')}`;
}

/** How a signed delivery deviates from a clean first attempt. */
export interface DeliveryOptions {
  /** Slack's redelivery counter; adds `x-slack-retry-num` (Bolt exposes it as `context.retryNum`). */
  retryNum?: number;
  /** Adds `x-slack-retry-reason`, e.g. `http_timeout`; defaults to `http_timeout` when `retryNum` is set. */
  retryReason?: string;
  /** Request timestamp in seconds; set it > 5 minutes in the past to test stale-request rejection. */
  timestamp?: number;
  /** Sign with the wrong secret, to test that the app answers 401. */
  badSignature?: boolean;
}

/** What the app answered. `body` is parsed JSON when possible, else the raw text. */
export interface DeliveryResult {
  status: number;
  /** Whatever the app under test sent back: `any` so assertions can reach into it without casts. */
  body: any;
}

/**
 * POST a body signed the way Slack signs it. Uses a fresh connection per request
 * (`agent:false`) so the app's server can close without waiting on keep-alive sockets.
 */
export function postSigned(
  url: string,
  rawBody: string,
  contentType: string,
  signingSecret: string,
  opts: DeliveryOptions = {},
): Promise<DeliveryResult> {
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const secret = opts.badSignature === true ? `${signingSecret}-wrong` : signingSecret;
  const headers: Record<string, string> = {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(rawBody)),
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': slackSignature(secret, ts, rawBody),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
  if (opts.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(opts.retryNum);
    headers['x-slack-retry-reason'] = opts.retryReason ?? 'http_timeout';
  } else if (opts.retryReason !== undefined) {
    headers['x-slack-retry-reason'] = opts.retryReason;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? '' : JSON.parse(text);
        } catch {
          // not JSON: keep the text (Bolt answers some requests with plain text)
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(rawBody);
  });
}
