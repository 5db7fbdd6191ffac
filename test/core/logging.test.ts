import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

describe('logging', () => {
  it('scrubs configured secrets wherever they appear and redacts auth headers', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger({ level: 'info', secrets: ['123456:BOT-TOKEN-SECRET'], destination: sink });
    log.error({ err: new Error('fetch https://api.telegram.org/bot123456:BOT-TOKEN-SECRET/getMe failed') }, 'boom');
    log.info({ req: { headers: { authorization: 'Bearer cb_abc', 'x-api-key': 'cb_def' } } }, 'request');
    const all = lines.join('');
    expect(all).not.toContain('BOT-TOKEN-SECRET');
    expect(all).not.toContain('cb_abc');
    expect(all).not.toContain('cb_def');
    expect(all).toContain('[REDACTED]');
  });
});
