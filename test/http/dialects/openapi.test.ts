/** The chat API dialects are in the one OpenAPI document, and each one's 404 stays inside its own prefix. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi();
});
afterAll(() => h.close());

describe('OpenAPI and routing', () => {
  it('documents every dialect endpoint, its stream events and its error envelope', async () => {
    const doc = (await h.call('GET', '/openapi.json')).json<{ paths: Record<string, Record<string, any>> }>();
    const expected: Array<[string, string]> = [
      ['/api/v1/chat/{botId}/message', 'post'],
      ['/api/v1/chat/{botId}/stream', 'post'],
      ['/api/v1/chat/{botId}/conversations', 'get'],
      ['/api/v1/chat/{botId}/conversations/{id}', 'get'],
      ['/api/chat', 'post'],
      ['/api/chat/stream', 'post'],
      ['/api/conversations', 'get'],
      ['/api/conversations/{id}', 'get'],
      ['/api/conversations/{id}', 'delete'],
      ['/api/conversations/{id}/clear', 'post'],
      ['/v1/api/chat/{slug}', 'post'],
    ];
    for (const [path, method] of expected) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      // Tags name each API by what it is, so a reader of the docs can tell them apart.
      expect(op.tags[0]).toMatch(/^(Bot chat|User and group chat|Agent chat) API$/);
    }
    expect(doc.paths['/api/v1/chat']?.post).toBeDefined(); // v1's chat is still there beside the bot chat API's
    expect(doc.paths['/api/v1/chat/{botId}/stream']!.post.description).toContain('{"type":"done","conversationId","messageId"}');
    expect(Object.keys(doc.paths['/api/chat/stream']!.post.responses['200'].content)).toEqual(['text/event-stream']);
    expect(doc.paths['/v1/api/chat/{slug}']!.post.responses['404'].content['application/json'].schema.properties).toHaveProperty('data');
  });

  it("an unknown path answers in the envelope of the dialect whose prefix it is under, and v1's elsewhere", async () => {
    const body = async (url: string) => (await h.call('GET', url)).json();
    expect(await body('/api/v1/nope')).toEqual({ error: { code: 'NOT_FOUND', message: 'No route GET /api/v1/nope' } });
    expect(await body('/api/nope')).toEqual({ error: { code: 'NOT_FOUND', message: 'No route GET /api/nope' } });
    expect(await body('/api/v1/chat/aria/nope')).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    expect(await body('/api/chat/nope')).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    expect(await body('/api/conversations/a/b/c')).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    expect(await body('/v1/api/chat/aria/nope')).toMatchObject({ data: null, error: { name: 'NotFoundError' } });
  });
});
