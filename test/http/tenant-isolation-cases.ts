/**
 * For each operation of the API: the requests by which one tenant could reach another's things
 * (its ids in the path, in the query or in the body, beside the caller's own), and the requests
 * that list or report what the caller has. tenant-isolation.test.ts runs them all.
 */

/** One tenant's things, one of each kind, by the ids the API gave out. */
export interface Ids {
  key: string;
  keyId: string;
  character: string;
  slug: string;
  session: string;
  fact: string;
  lorebook: string;
  botConversation: string;
  userConversation: string;
  agentConversation: string;
}

export interface Request {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
}

/** A request made from the ids it reaches for (`t`) and the caller's own (`own`). */
type Make = (t: Ids, own: Ids) => Request;

interface Case {
  /** Requests naming `t`'s things: answered as for things that exist nowhere. */
  reaching?: Make[];
  /** Requests of the caller's own: answered, holding nothing of anyone else's. */
  listing?: Make[];
  /** Why an operation has neither: it names no one's things and lists nothing. */
  namesNothing?: string;
}

const get = (url: string): Request => ({ method: 'GET', url });
const del = (url: string): Request => ({ method: 'DELETE', url });
const post = (url: string, body: unknown = {}): Request => ({ method: 'POST', url, body });
const patch = (url: string, body: unknown): Request => ({ method: 'PATCH', url, body });
const conv = (id: string) => `/api/v1/conversations/${id}`;
const chr = (id: string) => `/api/v1/characters/${id}`;
const book = (id: string) => `/api/v1/lorebooks/${id}`;
const bot = (id: string) => `/api/v1/chat/${id}`;

const cases: Record<string, Case> = {
  'GET /api/v1/characters': { listing: [() => get('/api/v1/characters?limit=100')] },
  'POST /api/v1/characters': { namesNothing: 'it creates from its body alone' },
  'GET /api/v1/characters/{id}': { reaching: [(t) => get(chr(t.character)), (t) => get(chr(t.slug))] },
  'PATCH /api/v1/characters/{id}': { reaching: [(t) => patch(chr(t.character), { occupation: 'Thief' })] },
  'DELETE /api/v1/characters/{id}': { reaching: [(t) => del(chr(t.character))] },
  'GET /api/v1/characters/{id}/avatar': { reaching: [(t) => get(`${chr(t.character)}/avatar`)] },
  'POST /api/v1/characters/import': { namesNothing: 'it creates from the card it is sent' },
  'GET /api/v1/characters/{id}/export': {
    reaching: [(t) => get(`${chr(t.character)}/export?format=json`), (t) => get(`${chr(t.character)}/export?format=png`)],
  },
  'POST /api/v1/characters/{id}/lorebooks': {
    reaching: [(t, own) => post(`${chr(t.character)}/lorebooks`, { lorebookId: own.lorebook }), (t, own) => post(`${chr(own.character)}/lorebooks`, { lorebookId: t.lorebook })],
  },
  'DELETE /api/v1/characters/{id}/lorebooks/{lorebookId}': {
    reaching: [(t) => del(`${chr(t.character)}/lorebooks/${t.lorebook}`), (t, own) => del(`${chr(own.character)}/lorebooks/${t.lorebook}`)],
  },

  'POST /api/v1/chat': {
    reaching: [
      (t) => post('/api/v1/chat', { characterId: t.character, message: 'hello' }),
      (t, own) => post('/api/v1/chat', { characterId: own.character, sessionId: t.session, message: 'hello' }),
      (t) => post('/api/v1/chat', { characterId: 'aria', sessionId: t.session, message: 'hello' }),
    ],
    listing: [(_t, own) => post('/api/v1/chat', { characterId: own.character, sessionId: own.session, message: 'hello, what do you know?' })],
  },
  'GET /api/v1/conversations': {
    reaching: [(t) => get(`/api/v1/conversations?characterId=${t.character}`)],
    listing: [() => get('/api/v1/conversations?limit=100')],
  },
  'GET /api/v1/conversations/{id}': { reaching: [(t) => get(conv(t.session)), (t) => get(`${conv(t.session)}?debug=lorebook`), (t) => get(conv(t.agentConversation))] },
  'DELETE /api/v1/conversations/{id}': { reaching: [(t) => del(conv(t.session))] },
  'POST /api/v1/conversations/{id}/clear': { reaching: [(t) => post(`${conv(t.session)}/clear`)] },
  'GET /api/v1/conversations/{id}/memory': { reaching: [(t) => get(`${conv(t.session)}/memory`)] },
  'POST /api/v1/conversations/{id}/memory': { reaching: [(t) => post(`${conv(t.session)}/memory`, { text: 'Likes tea' })] },
  'DELETE /api/v1/conversations/{id}/memory': { reaching: [(t) => del(`${conv(t.session)}/memory`)] },
  'DELETE /api/v1/conversations/{id}/memory/{memoryId}': {
    reaching: [(t) => del(`${conv(t.session)}/memory/${t.fact}`), (t, own) => del(`${conv(own.session)}/memory/${t.fact}`)],
  },
  'GET /api/v1/conversations/{id}/proactive': { reaching: [(t) => get(`${conv(t.session)}/proactive`)] },
  'PATCH /api/v1/conversations/{id}/proactive': { reaching: [(t) => patch(`${conv(t.session)}/proactive`, { enabled: true, dailyCap: 5 })] },
  'POST /api/v1/conversations/{id}/proactive/test': { reaching: [(t) => post(`${conv(t.session)}/proactive/test`)] },
  'POST /api/v1/conversations/{id}/lorebooks': {
    reaching: [(t, own) => post(`${conv(t.session)}/lorebooks`, { lorebookId: own.lorebook }), (t, own) => post(`${conv(own.session)}/lorebooks`, { lorebookId: t.lorebook })],
  },
  'GET /api/v1/conversations/{id}/lorebooks': { reaching: [(t) => get(`${conv(t.session)}/lorebooks`)] },
  'DELETE /api/v1/conversations/{id}/lorebooks/{lorebookId}': {
    reaching: [(t) => del(`${conv(t.session)}/lorebooks/${t.lorebook}`), (t, own) => del(`${conv(own.session)}/lorebooks/${t.lorebook}`)],
  },

  'GET /api/v1/updates': {
    reaching: [(t) => get(`/api/v1/updates?sessionId=${t.session}`)],
    listing: [() => get('/api/v1/updates?limit=100')],
  },
  'GET /api/v1/usage': { listing: [() => get('/api/v1/usage'), () => get('/api/v1/usage?groupBy=character'), () => get('/api/v1/usage?groupBy=day')] },

  // The admin's alone: a tenant is refused whatever it names.
  'GET /api/v1/platforms': { reaching: [() => get('/api/v1/platforms')] },
  'POST /api/v1/api-keys': { reaching: [() => post('/api/v1/api-keys', { name: 'mine' })] },
  'GET /api/v1/api-keys': { reaching: [() => get('/api/v1/api-keys')] },
  'PATCH /api/v1/api-keys/{id}': { reaching: [(t) => patch(`/api/v1/api-keys/${t.keyId}`, { credits: 1 })] },
  'DELETE /api/v1/api-keys/{id}': { reaching: [(t) => del(`/api/v1/api-keys/${t.keyId}`)] },

  'GET /api/v1/lorebooks': { listing: [() => get('/api/v1/lorebooks?limit=100')] },
  'POST /api/v1/lorebooks': { namesNothing: 'it creates from its body alone' },
  'GET /api/v1/lorebooks/{id}': { reaching: [(t) => get(book(t.lorebook))] },
  'PATCH /api/v1/lorebooks/{id}': { reaching: [(t) => patch(book(t.lorebook), { name: 'Mine now' })] },
  'DELETE /api/v1/lorebooks/{id}': { reaching: [(t) => del(book(t.lorebook))] },
  'GET /api/v1/lorebooks/{id}/export': { reaching: [(t) => get(`${book(t.lorebook)}/export`)] },

  'POST /api/v1/chat/{botId}/message': {
    reaching: [(t) => post(`${bot(t.character)}/message`, { message: 'hello' }), (t, own) => post(`${bot(own.character)}/message`, { message: 'hello', conversationId: t.botConversation })],
    listing: [(_t, own) => post(`${bot(own.character)}/message`, { message: 'hello again', conversationId: own.botConversation })],
  },
  'POST /api/v1/chat/{botId}/stream': {
    reaching: [(t) => post(`${bot(t.character)}/stream`, { message: 'hello' }), (t, own) => post(`${bot(own.character)}/stream`, { message: 'hello', conversationId: t.botConversation })],
  },
  'GET /api/v1/chat/{botId}/conversations': {
    reaching: [(t) => get(`${bot(t.character)}/conversations`)],
    listing: [(_t, own) => get(`${bot(own.character)}/conversations`), () => get(`${bot('aria')}/conversations`)],
  },
  'GET /api/v1/chat/{botId}/conversations/{id}': {
    reaching: [(t) => get(`${bot(t.character)}/conversations/${t.botConversation}`), (t, own) => get(`${bot(own.character)}/conversations/${t.botConversation}`)],
  },

  'POST /api/chat': {
    reaching: [(t) => post('/api/chat', { message: 'hello', userId: 'same-user', preset: t.character })],
    // Both tenants' users are "same-user": B's is its own conversation, with none of A's history.
    listing: [(_t, own) => post('/api/chat', { message: 'what did I tell you?', userId: 'same-user', preset: own.character })],
  },
  'POST /api/chat/stream': { reaching: [(t) => post('/api/chat/stream', { message: 'hello', userId: 'same-user', preset: t.character })] },
  'GET /api/conversations': { listing: [() => get('/api/conversations?userId=same-user'), () => get('/api/conversations')] },
  'GET /api/conversations/{id}': { reaching: [(t) => get(`/api/conversations/${t.userConversation}`)] },
  'DELETE /api/conversations/{id}': { reaching: [(t) => del(`/api/conversations/${t.userConversation}`)] },
  'POST /api/conversations/{id}/clear': { reaching: [(t) => post(`/api/conversations/${t.userConversation}/clear`)] },

  'POST /v1/api/chat/{slug}': {
    reaching: [(t) => post(`/v1/api/chat/${t.slug}`, { message: 'hello' }), (t, own) => post(`/v1/api/chat/${own.slug}`, { message: 'hello', conversationId: t.agentConversation })],
    listing: [(_t, own) => post(`/v1/api/chat/${own.slug}`, { message: 'and now?', conversationId: own.agentConversation })],
  },
};

/** The operations (of those given) this file has no case for. */
export function operationsWithoutCase(operations: string[]): string[] {
  return operations.filter((op) => {
    const c = cases[op];
    return !c || (!c.reaching?.length && !c.listing?.length && !c.namesNothing);
  });
}

export function caseFor(op: string): { reaching: Make[]; listing: Make[] } {
  const c = cases[op];
  if (!c) throw new Error(`no isolation case for ${op}`);
  return { reaching: c.reaching ?? [], listing: c.listing ?? [] };
}

/** The next character of the same kind (digit, lower or upper case letter), wrapping around. */
function bump(ch: string): string {
  for (const [lo, hi] of [['0', '9'], ['a', 'z'], ['A', 'Z']] as const) {
    if (ch >= lo && ch <= hi) return ch === hi ? lo : String.fromCharCode(ch.charCodeAt(0) + 1);
  }
  return ch;
}

/** Ids shaped like `ids` that name nothing: each one's last character moved on by one. */
export function absentLike(ids: Ids): Ids {
  const out = {} as Ids;
  for (const [field, id] of Object.entries(ids) as Array<[keyof Ids, string]>) {
    out[field] = /^\d+$/.test(id) ? `9${id}9` : id.slice(0, -1) + bump(id.slice(-1));
  }
  return out;
}
