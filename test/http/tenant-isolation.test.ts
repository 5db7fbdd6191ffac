/**
 * One tenant against another, across every operation the OpenAPI document lists (and the avatar
 * route it hides): called with another tenant's ids, in the path or in the body, an operation
 * answers exactly as it does for ids that exist nowhere, changes nothing of the other tenant's,
 * and shows nothing of it — neither in a response nor in what the model is sent. An operation
 * added to the API without a case here fails the first test, so it is never left unchecked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { OpenAIModel } from '../../src/llm/openai.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { testDatabase, testLogger } from '../helpers/harness.js';
import { validCharacter } from './helpers.js';
import { absentLike, caseFor, operationsWithoutCase, type Ids, type Request } from './tenant-isolation-cases.js';

const ADMIN = 'admin-key-for-isolation-0123456789';
const clock = new ManualClock();
let fake: FakeOpenAI;
let rt: Runtime;
let dropDatabase: (() => Promise<void>) | undefined;
/** The tenant whose things the other one reaches for. */
let a: Ids;
/** The tenant that reaches, with things of its own to reach with. */
let b: Ids;
/** A's ids changed by one character each: ids of the same shape that exist nowhere. */
let absent: Ids;
/** Every operation in the OpenAPI document, as `METHOD /path/{param}`. */
let operations: string[];

interface Answer {
  status: number;
  body: string;
}

/** One request over HTTP, as a client sends it (`null` key: none), read to its end. */
async function call(req: Request, key: string | null): Promise<Answer> {
  const headers: Record<string, string> = key ? { 'x-api-key': key } : {};
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${rt.url}${req.url}`, { method: req.method, headers, ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}) });
  const body = await res.text();
  await rt.memory.idle();
  return { status: res.status, body };
}

/** Written into everything A owns; B must never see it anywhere. */
const SECRET = 'Zanzibar-7731';

async function ok(res: Promise<Answer>, what: string): Promise<any> {
  const { status, body } = await res;
  expect(status, `${what}: ${body}`).toBeLessThan(300);
  return JSON.parse(body);
}

/** A tenant with one of every kind of thing the API keeps, each made through the API. */
async function tenant(name: string, secret: string): Promise<Ids> {
  const key = await ok(call({ method: 'POST', url: '/api/v1/api-keys', body: { name } }, ADMIN), 'key');
  const as = (method: 'GET' | 'POST', url: string, body?: unknown) => call({ method, url, ...(body !== undefined ? { body } : {}) }, key.key);
  const character = await ok(
    as('POST', '/api/v1/characters', validCharacter({ name: `${name} ${secret}`, description: `Keeper of ${secret}`, canInitiateConversation: true })),
    'character',
  );
  clock.advance(1000);
  const session = await ok(as('POST', '/api/v1/chat', { characterId: character.id, message: `my password is ${secret}` }), 'session');
  const fact = await ok(as('POST', `/api/v1/conversations/${session.sessionId}/memory`, { text: `Knows ${secret}` }), 'memory fact');
  const lorebook = await ok(
    as('POST', '/api/v1/lorebooks', { name: `${name} book`, lorebook: { entries: { 0: { uid: 0, key: ['hello'], content: `The vault code is ${secret}` } } } }),
    'lorebook',
  );
  await ok(as('POST', `/api/v1/conversations/${session.sessionId}/lorebooks`, { lorebookId: lorebook.id }), 'lorebook on the session');
  await ok(as('POST', `/api/v1/characters/${character.id}/lorebooks`, { lorebookId: lorebook.id }), 'lorebook on the character');
  clock.advance(1000);
  const bot = await ok(as('POST', `/api/v1/chat/${character.id}/message`, { message: `bot chat about ${secret}` }), 'bot chat');
  clock.advance(1000);
  const user = await ok(as('POST', '/api/chat', { message: `user chat about ${secret}`, userId: 'same-user', preset: character.id }), 'user chat');
  clock.advance(1000);
  const agent = await ok(as('POST', `/v1/api/chat/${character.slug}`, { message: `agent chat about ${secret}` }), 'agent chat');
  return {
    key: key.key,
    keyId: key.id,
    character: character.id,
    slug: character.slug,
    session: session.sessionId,
    fact: String(fact.id),
    lorebook: lorebook.id,
    botConversation: bot.data.conversationId,
    userConversation: user.data.conversationId,
    agentConversation: agent.data.conversationId,
  };
}

beforeAll(async () => {
  fake = await startFakeOpenAI();
  const db = await testDatabase();
  dropDatabase = db.drop;
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, ADMIN_API_KEY: ADMIN, RATE_LIMIT_API_KEY_PER_MIN: '1000', MEMORY_ENABLED: 'true' });
  const model = new OpenAIModel({ apiKey: fake.apiKey, baseURL: fake.baseURL, model: 'fake-model', timeoutMs: 5000, maxRetries: 0 }, clock);
  rt = await startRuntime(config, { log: testLogger(), clock, model });
  a = await tenant('Ada', SECRET);
  b = await tenant('Bo', 'nothing-secret');
  absent = absentLike(a);
  const doc = (await ok(call({ method: 'GET', url: '/openapi.json' }, null), 'the OpenAPI document')) as { paths: Record<string, Record<string, unknown>> };
  operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
});
afterAll(async () => {
  await rt?.shutdown('test');
  await fake?.close();
  await dropDatabase?.();
});

/** The request as B sends it, with every id of `target` replaced by a placeholder in the answer. */
async function asB(req: Request, target: Ids): Promise<Answer> {
  const res = await call(req, b.key);
  let body = res.body;
  // Short numbers (a memory fact's id) turn up anywhere; the other ids are long and random.
  for (const [field, id] of Object.entries(target)) if (id.length > 6) body = body.split(id).join(`<${field}>`);
  return { status: res.status, body };
}

/** Everything A can read of its own, as A reads it: what B's calls must leave as it was. */
async function aReadsItsOwn(): Promise<string[]> {
  const urls = [
    `/api/v1/characters/${a.character}`,
    `/api/v1/conversations/${a.session}`,
    `/api/v1/conversations/${a.session}/memory`,
    `/api/v1/conversations/${a.session}/lorebooks`,
    `/api/v1/conversations/${a.session}/proactive`,
    `/api/v1/lorebooks/${a.lorebook}`,
    `/api/v1/chat/${a.character}/conversations/${a.botConversation}`,
    `/api/conversations/${a.userConversation}`,
    `/api/v1/conversations/${a.agentConversation}`,
    `/api/v1/characters/${a.character}/export?format=json`,
  ];
  const read: string[] = [];
  for (const url of urls) read.push(JSON.stringify(await ok(call({ method: 'GET', url }, a.key), `A reads ${url}`)));
  return read;
}

describe('tenant isolation across the whole API', () => {
  it('has a case for every operation the OpenAPI document lists', () => {
    expect(operations.length).toBeGreaterThan(40);
    expect(operationsWithoutCase(operations)).toEqual([]);
  });

  it("answers another tenant's ids exactly as ids that exist nowhere, and changes nothing of that tenant's", async () => {
    const before = await aReadsItsOwn();
    const modelCallsBefore = fake.requests.length + fake.jsonRequests.length;
    let compared = 0;
    const refusedNot: string[] = [];
    for (const op of [...operations, 'GET /api/v1/characters/{id}/avatar']) {
      for (const make of caseFor(op).reaching) {
        const reached = await asB(make(a, b), a);
        const nowhere = await asB(make(absent, b), absent);
        // The same status and body, byte for byte: a refusal that tells the two apart would tell
        // B that A's thing exists. (A filter by A's character answers an empty page for both.)
        expect(reached, `${op}: ${make(a, b).url}`).toEqual(nowhere);
        if (reached.status < 400) refusedNot.push(op);
        expect(reached.body).not.toContain(SECRET);
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(55);
    expect(refusedNot).toEqual(['GET /api/v1/conversations']);
    // Not one byte of A's changed: B's deletes, clears, patches and attaches all missed.
    expect(await aReadsItsOwn()).toEqual(before);
    const sentToModel = [...fake.requests, ...fake.jsonRequests].slice(modelCallsBefore);
    for (const r of sentToModel) expect(JSON.stringify(r.body)).not.toContain(SECRET);
  });

  it("lists and reports of one tenant hold nothing of another's, though both chat as the same user id", async () => {
    const modelCallsBefore = fake.requests.length;
    let listed = 0;
    for (const op of operations) {
      for (const make of caseFor(op).listing) {
        const res = await call(make(a, b), b.key);
        expect(res.status, `${op}: ${res.body}`).toBeLessThan(300);
        expect(res.body, op).not.toContain(SECRET);
        for (const [field, id] of Object.entries(a)) if (id.length > 6) expect(res.body, `${op} shows A's ${field}`).not.toContain(id);
        listed++;
      }
    }
    expect(listed).toBeGreaterThanOrEqual(15);
    // B's own chats went through (the model was asked) and never carried A's words.
    const sent = fake.requests.slice(modelCallsBefore);
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) expect(JSON.stringify(r.body)).not.toContain(SECRET);
  });

  it('shows a private avatar to no one without a key, as for a character that does not exist', async () => {
    const avatar = (id: string): Request => ({ method: 'GET', url: `/api/v1/characters/${id}/avatar` });
    expect((await call(avatar(a.character), a.key)).status).toBe(200);
    const none = await call(avatar(a.character), null);
    const nowhere = await call(avatar(absent.character), null);
    expect(none.status).toBe(404);
    expect({ ...none, body: none.body.split(a.character).join('<id>') }).toEqual({ ...nowhere, body: nowhere.body.split(absent.character).join('<id>') });
  });
});
