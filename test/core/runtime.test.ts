import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startRuntime } from '../../src/runtime.js';
import { testLogger } from '../helpers/harness.js';

describe('runtime', () => {
  it('starts with no configuration, answers /health, and shuts down cleanly', async () => {
    const rt = await startRuntime(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:' }), { log: testLogger() });
    try {
      expect(rt.model.offline).toBe(true);
      const res = await fetch(`${rt.url}/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    } finally {
      await rt.shutdown('test');
    }
    await expect(fetch(`${rt.url}/health`)).rejects.toThrow();
  });

  it('lets an in-flight turn finish before closing the database', async () => {
    const rt = await startRuntime(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:' }), { log: testLogger() });
    const out = rt.engine.handle({
      platform: 'telegram', eventId: 'e1', chatId: '5', chatType: 'dm', userId: '5', userName: 'Kim', messageId: '1',
      text: 'finish me', imageUrls: [], mentioned: false, repliedToBot: false, senderIsAdmin: false,
    });
    const closing = rt.shutdown('test');
    const events = await out.collect();
    await closing;
    expect(events.map((e) => e.type)).toContain('done');
  });
});
