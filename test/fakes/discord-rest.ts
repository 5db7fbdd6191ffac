/**
 * The REST half of the fake Discord: `/api/v10/...` routes over node:http, with Discord's auth
 * rules, error bodies (`{message, code, errors?}`) and rate-limit headers on every response.
 * Only the routes a chat bridge uses are modelled; anything else is a 404 `{message:'404: Not
 * Found', code:0}` so a test notices when discord.js calls something unexpected.
 *
 * Validation that bites real bots is modelled on purpose: 2000-character content limit
 * (50035), empty messages (50006), replies to unknown messages (50035), webhook names
 * containing "discord"/"clyde" (50035), the 3 s interaction callback deadline (10062), double
 * acknowledgement (40060) and the 15 min interaction token lifetime (50027).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DiscordWorld, InteractionState } from './discord-world.js';
import { userObject } from './discord-world.js';
import type { FakeDiscordLimits, RateLimiter } from './discord-ratelimit.js';

/** One REST request as the fake saw it. `path` is after `/api/v10`, percent-decoded. */
export interface RestCall {
  method: string;
  path: string;
  query: string;
  body: any;
  at: number;
  status: number;
}

export interface RestContext {
  world: DiscordWorld;
  limiter: RateLimiter;
  calls: RestCall[];
  stats: { tooManyRequests: number };
  origin: () => string;
  /** Gateway echo of REST-created/edited channel messages (Discord dispatches those too). */
  onMessageCreate: (msg: any) => void;
  onMessageUpdate: (msg: any) => void;
  /** Called after any interaction response is recorded, to wake waiters. */
  onChange: () => void;
  interactionDeadlineMs: number;
  interactionTokenLifetimeMs: number;
  /** GET /gateway/bot: the recommended shard count and max_concurrency. */
  gatewayBot: () => { shards: number; maxConcurrency: number };
}

class ApiError extends Error {
  constructor(readonly status: number, readonly code: number, message: string, readonly errors?: any) {
    super(message);
  }
}
const formError = (field: string, code: string, message: string) =>
  new ApiError(400, 50035, 'Invalid Form Body', { [field]: { _errors: [{ code, message }] } });

interface Req {
  m: string[];
  body: any;
  query: URLSearchParams;
  files: Array<{ name: string; filename: string; size: number; contentType: string }>;
}
interface Reply {
  status: number;
  body?: any;
}
interface Route {
  method: string;
  re: RegExp;
  template: string;
  auth: boolean;
  limit: keyof FakeDiscordLimits;
  /** Index into the match for the major parameter (channel/guild id, or webhook id+token). */
  major?: number | ((m: string[]) => string);
  handler: (r: Req) => Reply;
}

export function createRestHandler(ctx: RestContext): (req: IncomingMessage, res: ServerResponse) => void {
  const { world } = ctx;
  const routes = buildRoutes(ctx);
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const method = (req.method ?? 'GET').toUpperCase();
      const raw = url.pathname.startsWith('/api/v10/') ? url.pathname.slice('/api/v10'.length) : null;
      const path = raw === null ? url.pathname : raw.split('/').map((s) => safeDecode(s)).join('/');
      let parsed: { body: any; files: Req['files'] } = { body: null, files: [] };
      const call: RestCall = { method, path, query: url.search, body: null, at: world.now(), status: 0 };
      ctx.calls.push(call);
      const send = (status: number, body: any, headers: Record<string, string> = {}) => {
        call.status = status;
        res.writeHead(status, { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      try {
        parsed = parseBody(req.headers['content-type'] ?? '', Buffer.concat(chunks));
        call.body = parsed.files.length ? { ...parsed.body, files: parsed.files } : parsed.body;
      } catch {
        return send(400, { message: '400: Bad Request', code: 0 });
      }
      let route: Route | undefined;
      let m: RegExpExecArray | null = null;
      for (const r of raw === null ? [] : routes) {
        if (r.method === method && (m = r.re.exec(path))) { route = r; break; }
      }
      if (!route || !m) return send(404, { message: '404: Not Found', code: 0 });
      if (route.auth && req.headers.authorization !== `Bot ${world.token}`) {
        return send(401, { message: '401: Unauthorized', code: 0 });
      }
      const groups = [...m];
      const major = typeof route.major === 'function' ? route.major(groups) : route.major ? groups[route.major] ?? 'global' : 'global';
      const decision = ctx.limiter.check(method, path, route.template, major, route.limit, route.auth);
      if (!decision.ok) {
        ctx.stats.tooManyRequests++;
        return send(429, decision.body, decision.headers);
      }
      try {
        const out = route.handler({ m: groups, body: parsed.body ?? {}, query: url.searchParams, files: parsed.files });
        send(out.status, out.body, decision.headers);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        send(e.status, { message: e.message, code: e.code, ...(e.errors ? { errors: e.errors } : {}) }, decision.headers);
      }
    });
  };
}

function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** JSON bodies, or multipart/form-data with `payload_json` + `files[n]` (what discord.js sends with files). */
function parseBody(contentType: string, buf: Buffer): { body: any; files: Req['files'] } {
  if (buf.length === 0) return { body: null, files: [] };
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (!contentType.startsWith('multipart/form-data') || !boundary) return { body: JSON.parse(buf.toString('utf8')), files: [] };
  const delim = `--${boundary[1] ?? boundary[2]}`;
  let body: any = {};
  const files: Req['files'] = [];
  for (const part of buf.toString('latin1').split(delim).slice(1)) {
    if (part.startsWith('--')) break;
    const sep = part.indexOf('\r\n\r\n');
    const head = part.slice(0, sep);
    const content = part.slice(sep + 4, part.endsWith('\r\n') ? -2 : undefined);
    const name = /name="([^"]*)"/.exec(head)?.[1] ?? '';
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    if (name === 'payload_json') body = JSON.parse(Buffer.from(content, 'latin1').toString('utf8'));
    else if (filename !== undefined) {
      files.push({ name, filename, size: content.length, contentType: /content-type:\s*(\S+)/i.exec(head)?.[1] ?? 'application/octet-stream' });
    }
  }
  return { body, files };
}

function buildRoutes(ctx: RestContext): Route[] {
  const { world } = ctx;
  const ok = (body?: any): Reply => ({ status: 200, body });
  const noContent: Reply = { status: 204 };

  const channel = (id: string) => {
    const ch = world.channels.get(id);
    if (!ch) throw new ApiError(404, 10003, 'Unknown Channel');
    return ch;
  };
  const validateContent = (body: any, files: Req['files'], field = 'content') => {
    if (typeof body.content === 'string' && [...body.content].length > 2000) {
      throw formError(field, 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    }
    const empty = !body.content && !body.embeds?.length && !files.length && !body.sticker_ids?.length && !body.components?.length && !body.poll;
    if (empty) throw new ApiError(400, 50006, 'Cannot send an empty message');
  };
  const attachmentsFor = (channelId: string, files: Req['files']) =>
    files.map((f) => {
      const id = world.snowflake();
      const url = `${ctx.origin()}/attachments/${channelId}/${id}/${encodeURIComponent(f.filename)}`;
      return { id, filename: f.filename, size: f.size, url, proxy_url: url, content_type: f.contentType };
    });
  const guildMember = (guildId: string | null) =>
    guildId ? (({ user: _u, ...rest }) => rest)(world.guilds.get(guildId)?.members.get(world.bot.id) ?? { user: null }) : undefined;
  const checkWebhookName = (name: unknown, field: string) => {
    if (typeof name === 'string' && /discord|clyde/i.test(name)) {
      throw formError(field, 'USERNAME_INVALID_CONTAINS', `Username cannot contain "${/clyde/i.test(name) ? 'clyde' : 'discord'}"`);
    }
  };
  const applyEdit = (msg: any, body: any, files: Req['files']) => {
    if (typeof body.content === 'string' && [...body.content].length > 2000) {
      throw formError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    }
    if ('content' in body) msg.content = body.content ?? '';
    if ('embeds' in body) msg.embeds = body.embeds ?? [];
    if ('components' in body) msg.components = body.components ?? [];
    if (files.length) msg.attachments = [...msg.attachments, ...attachmentsFor(msg.channel_id, files)];
    if ('flags' in body && typeof body.flags === 'number') msg.flags = body.flags;
    msg.flags = (msg.flags ?? 0) & ~128; // editing a deferred "thinking" message ends the loading state
    msg.edited_timestamp = world.iso();
  };
  const liveInteraction = (appId: string, token: string): InteractionState | undefined => {
    if (appId !== world.applicationId) return undefined;
    const it = world.interactions.get(token);
    if (it && world.now() - it.createdAt > ctx.interactionTokenLifetimeMs) throw new ApiError(401, 50027, 'Invalid Webhook Token');
    return it;
  };
  const webhook = (id: string, token: string) => {
    const w = world.webhooks.get(id);
    if (!w) throw new ApiError(404, 10015, 'Unknown Webhook');
    if (w.token !== token) throw new ApiError(401, 50027, 'Invalid Webhook Token');
    return w;
  };
  const interactionMessage = (it: InteractionState, data: any, flags: number) =>
    world.message({
      channelId: it.channelId, guildId: it.guildId, author: world.bot, content: data?.content ?? '',
      embeds: data?.embeds, components: data?.components, flags,
    });
  const findInteractionMessage = (it: InteractionState, mid: string) => {
    if (mid === '@original') {
      if (!it.original) throw new ApiError(404, 10008, 'Unknown Message');
      return it.original;
    }
    const f = it.responses.find((r) => r.kind === 'followup' && r.data?.__message?.id === mid);
    if (!f) throw new ApiError(404, 10008, 'Unknown Message');
    return f.data.__message;
  };
  const commandsPut = (list: any[], body: any, guildId?: string) => {
    if (!Array.isArray(body)) throw new ApiError(400, 50035, 'Invalid Form Body');
    const next = body.map((c: any, i: number) => {
      const type = c.type ?? 1;
      if (typeof c.name !== 'string' || !/^[-_\p{L}\p{N}]{1,32}$/u.test(c.name) || (type === 1 && c.name !== c.name.toLowerCase())) {
        throw formError(`${i}.name`, 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
      }
      if (type === 1 && (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 100)) {
        throw formError(`${i}.description`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      }
      const prev = list.find((p) => p.name === c.name && p.type === type);
      return {
        id: prev?.id ?? world.snowflake(), application_id: world.applicationId, version: world.snowflake(),
        type, name: c.name, description: c.description ?? '', options: c.options ?? [],
        default_member_permissions: c.default_member_permissions ?? null, dm_permission: c.dm_permission ?? true,
        nsfw: c.nsfw ?? false, contexts: c.contexts ?? null, integration_types: c.integration_types ?? [0],
        name_localizations: c.name_localizations ?? null, description_localizations: c.description_localizations ?? null,
        ...(guildId ? { guild_id: guildId } : {}),
      };
    });
    list.splice(0, list.length, ...next);
    return ok(next);
  };
  const guildCommands = (id: string) => {
    world.mustGuild(id);
    let l = world.guildCommands.get(id);
    if (!l) world.guildCommands.set(id, (l = []));
    return l;
  };
  const guild = (id: string) => {
    const g = world.guilds.get(id);
    if (!g) throw new ApiError(404, 10004, 'Unknown Guild');
    return g;
  };

  const r = (method: string, template: string, handler: Route['handler'], o: Partial<Route> = {}): Route => ({
    method, template, handler, auth: true, limit: 'default',
    re: new RegExp(`^${template.replace(/:[a-z]+/g, '([^/]+)')}$`),
    ...o,
  });
  const webhookMajor = (m: string[]) => `${m[1]}/${m[2]}`;

  return [
    r('GET', '/gateway', () => ok({ url: `${ctx.origin().replace('http', 'ws')}/gateway` }), { auth: false }),
    r('GET', '/gateway/bot', () => {
      const { shards, maxConcurrency } = ctx.gatewayBot();
      return ok({
        url: `${ctx.origin().replace('http', 'ws')}/gateway`, shards,
        session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: maxConcurrency },
      });
    }),
    r('GET', '/users/@me', () => ok(world.bot)),
    r('POST', '/users/@me/channels', ({ body }) =>
      ok(world.dmChannel(world.knownUsers.get(String(body.recipient_id)) ?? userObject({ id: String(body.recipient_id), username: 'unknown' })))),
    r('GET', '/users/:id', ({ m }) => {
      const u = m[1] === world.bot.id ? world.bot : world.knownUsers.get(m[1]!);
      if (!u) throw new ApiError(404, 10013, 'Unknown User');
      return ok(u);
    }),
    r('GET', '/applications/@me', () => ok({
      id: world.applicationId, name: world.bot.username, icon: null, description: '', summary: '',
      bot_public: true, bot_require_code_grant: false, verify_key: '0'.repeat(64), flags: 0, team: null,
      bot: world.bot, owner: userObject({ id: world.guilds.values().next().value?.ownerId ?? world.snowflake(), username: 'owner' }),
    })),
    r('GET', '/applications/:app/commands', () => ok(world.globalCommands)),
    r('PUT', '/applications/:app/commands', ({ body }) => commandsPut(world.globalCommands, body)),
    r('POST', '/applications/:app/commands', ({ body }) => {
      const created = commandsPut(world.globalCommands.filter((c) => c.name === body.name), [body]).body[0];
      const i = world.globalCommands.findIndex((c) => c.name === created.name);
      if (i >= 0) world.globalCommands[i] = created;
      else world.globalCommands.push(created);
      return { status: 201, body: created };
    }),
    r('GET', '/applications/:app/guilds/:guild/commands', ({ m }) => ok(guildCommands(m[2]!)), { major: 2 }),
    r('PUT', '/applications/:app/guilds/:guild/commands', ({ m, body }) => commandsPut(guildCommands(m[2]!), body, m[2]), { major: 2 }),

    r('GET', '/guilds/:id', ({ m }) => {
      const { members: _m, channels: _c, threads: _t, ...g } = world.guildCreatePayload(guild(m[1]!));
      return ok(g);
    }, { major: 1 }),
    r('GET', '/guilds/:id/channels', ({ m }) => ok(guild(m[1]!).channelIds.map((id) => world.channels.get(id))), { major: 1 }),
    r('GET', '/guilds/:id/roles', ({ m }) => ok(guild(m[1]!).roles), { major: 1 }),
    r('GET', '/guilds/:id/members/:user', ({ m }) => {
      const mem = guild(m[1]!).members.get(m[2]!);
      if (!mem) throw new ApiError(404, 10007, 'Unknown Member');
      return ok(mem);
    }, { major: 1 }),

    r('GET', '/channels/:id', ({ m }) => ok(channel(m[1]!)), { major: 1 }),
    // A channel's history, as Discord pages it: `limit` (1-100, default 50) messages after
    // `after` (the oldest ones after it) or before `before` (else the newest), newest first.
    r('GET', '/channels/:id/messages', ({ m, query }) => {
      const ch = channel(m[1]!);
      const limit = Number(query.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ApiError(400, 50035, 'Invalid Form Body');
      const after = query.get('after');
      const before = query.get('before');
      const all = [
        ...[...world.userMessages.values()].filter((msg) => msg.channel_id === ch.id),
        ...(world.messages.get(ch.id) ?? []).filter((s) => !s.deleted).map((s) => s.msg),
      ].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      const page = after
        ? all.filter((msg) => BigInt(msg.id) > BigInt(after)).slice(0, limit)
        : all.filter((msg) => !before || BigInt(msg.id) < BigInt(before)).slice(-limit);
      return ok(page.reverse());
    }, { major: 1 }),
    r('GET', '/channels/:id/messages/:mid', ({ m }) => {
      const msg = world.findStored(m[1]!, m[2]!)?.msg ?? world.userMessages.get(m[2]!);
      if (!msg || msg.channel_id !== m[1]) throw new ApiError(404, 10008, 'Unknown Message');
      return ok(msg);
    }, { major: 1 }),
    r('POST', '/channels/:id/messages', ({ m, body, files }) => {
      const ch = channel(m[1]!);
      validateContent(body, files);
      const guildId = world.guildOf(ch.id);
      if (body.nonce !== undefined && body.enforce_nonce) {
        const dup = world.messages.get(ch.id)?.find((s) => s.msg.nonce === body.nonce);
        if (dup) return ok(dup.msg);
      }
      const ref = body.message_reference;
      if (ref?.message_id && !world.findAnyMessage(String(ref.message_id)) && ref.fail_if_not_exists !== false) {
        throw formError('message_reference', 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', 'Unknown message');
      }
      const msg = world.message({
        channelId: ch.id, guildId, author: world.bot, content: body.content ?? '', embeds: body.embeds,
        components: body.components, attachments: attachmentsFor(ch.id, files), flags: body.flags,
        nonce: body.nonce, reference: ref?.message_id && world.findAnyMessage(String(ref.message_id)) ? ref : undefined,
      });
      world.storeMessage(msg);
      ctx.onMessageCreate({ ...msg, ...(guildId ? { member: guildMember(guildId) } : {}) });
      return ok(msg);
    }, { major: 1, limit: 'messagePost' }),
    r('PATCH', '/channels/:id/messages/:mid', ({ m, body, files }) => {
      channel(m[1]!);
      const stored = world.findStored(m[1]!, m[2]!);
      if (!stored) {
        if (world.userMessages.get(m[2]!)?.channel_id === m[1]) throw new ApiError(403, 50005, 'Cannot edit a message authored by another user');
        throw new ApiError(404, 10008, 'Unknown Message');
      }
      applyEdit(stored.msg, body, files);
      stored.edits++;
      ctx.onMessageUpdate(stored.msg);
      return ok(stored.msg);
    }, { major: 1, limit: 'messageEdit' }),
    r('DELETE', '/channels/:id/messages/:mid', ({ m }) => {
      const stored = world.findStored(m[1]!, m[2]!);
      if (!stored) throw new ApiError(404, 10008, 'Unknown Message');
      stored.deleted = true;
      return noContent;
    }, { major: 1 }),
    r('POST', '/channels/:id/typing', ({ m }) => (channel(m[1]!), noContent), { major: 1, limit: 'typing' }),
    r('POST', '/channels/:id/webhooks', ({ m, body }) => {
      const ch = channel(m[1]!);
      if (typeof body.name !== 'string' || body.name.length < 1 || body.name.length > 80) {
        throw formError('name', 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 80 in length.');
      }
      checkWebhookName(body.name, 'name');
      const w = {
        id: world.snowflake(), type: 1, guild_id: world.guildOf(ch.id), channel_id: ch.id, name: body.name,
        avatar: null, token: `wh-${world.snowflake()}`, application_id: world.applicationId, user: world.bot,
      };
      world.webhooks.set(w.id, w);
      return ok(w);
    }, { major: 1 }),
    r('GET', '/channels/:id/webhooks', ({ m }) => ok([...world.webhooks.values()].filter((w) => w.channel_id === channel(m[1]!).id)), { major: 1 }),

    r('POST', '/webhooks/:id/:token', ({ m, body, query, files }) => {
      const it = liveInteraction(m[1]!, m[2]!);
      if (it) {
        if (!it.acknowledged) throw new ApiError(404, 10015, 'Unknown Webhook');
        validateContent(body, files);
        let msg: any;
        if (it.original && (it.original.flags & 128) && !it.responses.some((x) => x.kind === 'followup')) {
          applyEdit(it.original, body, files); // the first followup after a deferral replaces "thinking…"
          msg = it.original;
        } else {
          msg = interactionMessage(it, body, body.flags ?? 0);
        }
        it.responses.push({ kind: 'followup', type: 0, data: { ...body, __message: msg } });
        ctx.onChange();
        return ok(msg);
      }
      const w = webhook(m[1]!, m[2]!);
      validateContent(body, files);
      checkWebhookName(body.username, 'username');
      const channelId = query.get('thread_id') ?? w.channel_id;
      const author = { id: w.id, username: body.username ?? w.name, discriminator: '0000', global_name: null, avatar: null, bot: true };
      const msg = world.message({
        channelId, guildId: w.guild_id, author, content: body.content ?? '', embeds: body.embeds,
        components: body.components, attachments: attachmentsFor(channelId, files), webhookId: w.id, flags: body.flags,
      });
      msg.application_id = world.applicationId;
      if (body.avatar_url) msg.author.avatar_url = body.avatar_url; // kept for assertions; Discord hashes it into `avatar`
      world.storeMessage(msg);
      ctx.onMessageCreate(msg);
      return query.get('wait') === 'true' ? ok(msg) : noContent;
    }, { auth: false, limit: 'webhook', major: webhookMajor }),
    r('GET', '/webhooks/:id/:token/messages/:mid', ({ m }) => {
      const it = liveInteraction(m[1]!, m[2]!);
      if (it) return ok(findInteractionMessage(it, m[3]!));
      const w = webhook(m[1]!, m[2]!);
      const s = [...world.messages.values()].flat().find((x) => x.msg.id === m[3] && x.msg.webhook_id === w.id && !x.deleted);
      if (!s) throw new ApiError(404, 10008, 'Unknown Message');
      return ok(s.msg);
    }, { auth: false, limit: 'webhook', major: webhookMajor }),
    r('PATCH', '/webhooks/:id/:token/messages/:mid', ({ m, body, files }) => {
      const it = liveInteraction(m[1]!, m[2]!);
      if (it) {
        const msg = findInteractionMessage(it, m[3]!);
        applyEdit(msg, body, files);
        it.responses.push({ kind: m[3] === '@original' ? 'editOriginal' : 'followup', type: 0, data: { ...body, __message: msg } });
        ctx.onChange();
        return ok(msg);
      }
      const w = webhook(m[1]!, m[2]!);
      const s = [...world.messages.values()].flat().find((x) => x.msg.id === m[3] && x.msg.webhook_id === w.id && !x.deleted);
      if (!s) throw new ApiError(404, 10008, 'Unknown Message');
      applyEdit(s.msg, body, files);
      s.edits++;
      ctx.onMessageUpdate(s.msg);
      return ok(s.msg);
    }, { auth: false, limit: 'webhook', major: webhookMajor }),

    r('POST', '/interactions/:id/:token/callback', ({ m, body, query }) => {
      const it = world.interactions.get(m[2]!);
      if (!it || it.id !== m[1] || world.now() - it.createdAt > ctx.interactionDeadlineMs) {
        throw new ApiError(404, 10062, 'Unknown interaction');
      }
      if (it.acknowledged) throw new ApiError(400, 40060, 'Interaction has already been acknowledged.');
      const type = Number(body.type);
      if (type === 4 || type === 5) {
        if (type === 4) validateContent(body.data ?? {}, [], 'data.content');
        it.original = interactionMessage(it, type === 4 ? body.data : {}, (body.data?.flags ?? 0) | (type === 5 ? 128 : 0));
        it.original.interaction_metadata = { id: it.id, type: 2, user: it.user, authorizing_integration_owners: {} };
      }
      it.acknowledged = true;
      it.responses.push({ kind: 'callback', type, data: body.data ?? null });
      ctx.onChange();
      if (query.get('with_response') !== 'true') return noContent;
      return ok({
        interaction: {
          id: it.id, type: it.type, response_message_id: it.original?.id,
          response_message_loading: type === 5, response_message_ephemeral: Boolean((it.original?.flags ?? 0) & 64),
        },
        resource: { type, ...(it.original ? { message: it.original } : {}) },
      });
    }, { auth: false, limit: 'interactionCallback', major: 1 }),
  ];
}
