/** A model that fails falls back along the configured chain before the user sees a failure. */
import { afterEach, describe, expect, it } from 'vitest';
import { inbound, say, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('model fallbacks', () => {
  it('tries the next model when one fails, and records which one answered', async () => {
    h = await startHarness({ maxRetries: 0, config: { fallbackModels: ['spare-model', 'last-resort'] } });
    h.fake.failNext(2, { status: 500 });
    const r = await say(h.engine, inbound({ text: 'hello' }));
    expect(r.reply).toBe('Echo: hello');
    expect(h.fake.requests.map((q) => q.body.model)).toEqual(['fake-model', 'spare-model', 'last-resort']);
    const conv = (await h.store.conversations.getByScope('telegram:1'))!;
    const rows = await h.store.db.selectFrom('usage').select(['model', 'error_code']).where('conversation_id', '=', conv.id).orderBy('id').execute();
    expect(rows).toEqual([
      { model: 'fake-model', error_code: 'MODEL_ERROR' },
      { model: 'spare-model', error_code: 'MODEL_ERROR' },
      { model: 'last-resort', error_code: null },
    ]);
  });

  it("tries the character's own fallbacks before the configured ones", async () => {
    h = await startHarness({ maxRetries: 0, config: { fallbackModels: ['server-spare'] } });
    const aria = (await h.store.characters.findByName('Aria'))!;
    await h.store.characters.update(aria.id, { fallbackModels: ['aria-spare'] });
    h.fake.failNext(2, { status: 500 });
    const r = await say(h.engine, inbound({ text: 'hello' }));
    expect(r.reply).toBe('Echo: hello');
    expect(h.fake.requests.map((q) => q.body.model)).toEqual(['fake-model', 'aria-spare', 'server-spare']);
  });

  it('gives the neutral failure message when every model fails, and never restarts an answer already shown', async () => {
    h = await startHarness({ maxRetries: 0, config: { fallbackModels: ['spare-model'] } });
    h.fake.failNext(2, { status: 500 });
    const failed = await say(h.engine, inbound({ text: 'hello' }));
    expect(failed.error).toMatch(/couldn't come up with a reply/);
    h.fake.breakStreamAfter(2);
    const cut = await say(h.engine, inbound({ text: 'a longer question for you' }));
    expect(cut.error).toBeDefined();
    expect(h.fake.requests.at(-1)?.body.model).toBe('fake-model'); // not retried on the spare once text was out
  });
});
