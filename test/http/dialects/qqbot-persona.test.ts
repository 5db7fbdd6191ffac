/** Personas on the user/group chat API: a user's persona names them and describes them to the character. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLive, type Json, type LiveApi } from './helpers.js';

let h: LiveApi;
beforeAll(async () => {
  h = await startLive({});
});
afterAll(() => h.close());

describe('POST /api/chat with a persona', () => {
  it('uses the persona name for {{user}} and its speaker prefix in a group, and its description in the context', async () => {
    const k = await h.newKey();
    const dm = await h.json('POST', '/api/chat', { key: k.key, body: { message: 'hi', userId: 'u1', persona: { name: 'Kit', description: 'A retired sea captain' } } });
    expect(dm.status).toBe(200);
    const system = () => String(h.fake.requests.at(-1)?.body.messages[0].content);
    expect(system()).toContain('talking with Kit.');
    expect(system()).toMatch(/About Kit, who you are talking with: A retired sea captain$/);

    await h.json('POST', '/api/chat', { key: k.key, body: { message: 'ahoy all', userId: 'u1', groupId: 'g1', persona: { name: 'Kit' } } });
    const lines = (h.fake.requests.at(-1)?.body.messages as Json[]).filter((m) => m.role === 'user').map((m) => m.content);
    expect(lines.at(-1)).toBe('Kit: ahoy all');
    const bad = await h.json('POST', '/api/chat', { key: k.key, body: { message: 'x', userId: 'u1', persona: { name: 'x'.repeat(101) } } });
    expect(bad.status).toBe(400);
  });
});
