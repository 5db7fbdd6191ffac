/** The transport's pure helpers: Telegram error classification and the apiRoot quirk. */
import { describe, expect, it } from 'vitest';
import { TelegramError } from 'telegraf';
import { normalizeApiRoot, retryAfterMs, telegramErrorKind } from '../../../adapters/telegram/transport.js';

const err = (error_code: number, description: string, parameters?: { retry_after?: number }) =>
  new TelegramError({ error_code, description, ...(parameters ? { parameters } : {}) });

describe('telegram transport helpers', () => {
  it('classifies Telegram errors by instanceof and code, not by name', () => {
    expect(telegramErrorKind(err(429, 'Too Many Requests: retry after 3', { retry_after: 3 }))).toBe('rate-limited');
    expect(telegramErrorKind(err(400, "Bad Request: can't parse entities: Unsupported start tag \"x\""))).toBe('parse');
    expect(telegramErrorKind(err(400, 'Bad Request: message is not modified: specified new message content …'))).toBe('not-modified');
    expect(telegramErrorKind(err(404, 'Not Found'))).toBe('method-missing');
    expect(telegramErrorKind(err(400, 'Bad Request: chat not found'))).toBe('other');
    const lookalike = Object.assign(new Error('429: Too Many Requests'), { code: 429, parameters: { retry_after: 1 } });
    expect(telegramErrorKind(lookalike)).toBe('other');
  });

  it('reads retry_after in seconds as milliseconds, only for 429', () => {
    expect(retryAfterMs(err(429, 'Too Many Requests: retry after 7', { retry_after: 7 }))).toBe(7000);
    expect(retryAfterMs(err(429, 'Too Many Requests'))).toBe(1000);
    expect(retryAfterMs(err(400, 'Bad Request'))).toBeUndefined();
    expect(retryAfterMs(new Error('x'))).toBeUndefined();
  });

  it('keeps a path prefix in apiRoot by giving it a trailing slash (telegraf resolves relative to it)', () => {
    expect(normalizeApiRoot('http://127.0.0.1:8081')).toBe('http://127.0.0.1:8081');
    expect(normalizeApiRoot('https://api.telegram.org/')).toBe('https://api.telegram.org');
    expect(normalizeApiRoot('https://proxy.example/telegram')).toBe('https://proxy.example/telegram/');
    expect(new URL('./bot1:x/getMe', normalizeApiRoot('https://proxy.example/telegram')).href).toBe('https://proxy.example/telegram/bot1:x/getMe');
  });
});
