/**
 * A platform message, or a model's reply, carrying U+0000 (NUL) is answered and stored without
 * it, on SQLite and on PostgreSQL alike — before, on PostgreSQL the turn failed at the store
 * after the model was paid, and a message's claim could not be stored.
 */
import { describe, expect, it } from 'vitest';
import { inbound, say, startHarness } from '../helpers/harness.js';
import { hasPostgres, pgDatabase } from '../helpers/services.js';

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !hasPostgres())(`a NUL character in a turn [${backend}]`, () => {
    it('is answered; the message and the reply are stored without it', async () => {
      const db = backend === 'postgres' ? await pgDatabase() : undefined;
      const h = await startHarness(db ? { databaseUrl: db.url } : {});
      try {
        h.fake.respondWith(() => 'A reply with a \u0000 in it');
        const msg = inbound({ text: 'hello\u0000 there', userName: 'Nu\u0000ll' });
        const out = await say(h.engine, msg);
        expect(out.error).toBeUndefined();
        expect(out.reply).toBe('A reply with a  in it'); // the reply as stored
        const conv = await h.store.conversations.getByScope(`telegram:${msg.chatId}`);
        const stored = await h.store.messages.newest(conv!.id, { limit: 10 });
        expect(stored.map((m) => m.content).sort()).toEqual(['A reply with a  in it', 'hello there']);
      } finally {
        await h.close();
        await db?.drop();
      }
    });
  });
}
