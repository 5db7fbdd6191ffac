import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, resolveLogFormat } from '../../src/log.js';
import { generateApiKey } from '../../src/store/api-keys.js';

function sink() {
  const lines: string[] = [];
  return { lines, stream: new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }) };
}

describe('logging', () => {
  it('scrubs configured secrets wherever they appear and redacts auth headers', () => {
    const { lines, stream } = sink();
    const log = createLogger({ level: 'info', secrets: ['123456:BOT-TOKEN-SECRET'], destination: stream });
    log.error({ err: new Error('fetch https://api.telegram.org/bot123456:BOT-TOKEN-SECRET/getMe failed') }, 'boom');
    log.info({ req: { headers: { authorization: 'Bearer cb_abc', 'x-api-key': 'cb_def' } } }, 'request');
    const all = lines.join('');
    expect(all).not.toContain('BOT-TOKEN-SECRET');
    expect(all).not.toContain('cb_abc');
    expect(all).not.toContain('cb_def');
    expect(all).toContain('[REDACTED]');
  });

  it("scrubs anything shaped like a tenant's API key, with no secrets configured, in both formats", () => {
    for (const format of ['json', 'pretty'] as const) {
      const { lines, stream } = sink();
      const log = createLogger({ level: 'info', format, destination: stream, colorize: false });
      const key = generateApiKey();
      log.info({ req: { url: `/api/v1/characters?api_key=${key}&next=1` } }, `looked up ${key}x`);
      const all = lines.join('');
      expect(all).not.toContain(key.slice(3));
      expect(all).toContain('api_key=cb_[REDACTED]&next=1');
      expect(all).toContain('looked up cb_[REDACTED]x');
    }
  });

  it('writes readable lines in pretty format, scrubbed the same way', () => {
    const { lines, stream } = sink();
    const log = createLogger({ level: 'info', format: 'pretty', secrets: ['sk-live-SECRET-123'], destination: stream, colorize: false });
    log.warn({ url: 'https://api.example.com/?key=sk-live-SECRET-123', apiKey: 'cb_hidden' }, 'model call failed');
    const all = lines.join('');
    expect(all).toMatch(/WARN.*model call failed/);
    expect(all).toContain('url: "https://api.example.com/?key=[REDACTED]"');
    expect(all).not.toContain('sk-live-SECRET-123');
    expect(all).not.toContain('cb_hidden');
    expect(() => JSON.parse(all)).toThrow(); // not JSON
  });

  it('is readable on a terminal and JSON when piped, unless LOG_FORMAT says otherwise', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });
});
