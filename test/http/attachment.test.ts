import { describe, expect, it } from 'vitest';
import { attachment } from '../../src/http/attachment.js';

describe('attachment (Content-Disposition)', () => {
  it('names a plain ASCII file as it is', () => {
    expect(attachment('aria.png')).toBe('attachment; filename="aria.png"');
  });

  it('gives any other name an ASCII fallback and the exact name in filename*', () => {
    expect(attachment('été "x".json')).toBe(`attachment; filename="_t_ _x_.json"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.json`);
    expect(attachment('😀.json')).toBe(`attachment; filename="__.json"; filename*=UTF-8''%F0%9F%98%80.json`);
    expect(attachment("it's(1).json")).toBe(`attachment; filename="it's(1).json"`);
    expect(attachment('100%.json')).toBe(`attachment; filename="100_.json"; filename*=UTF-8''100%25.json`);
  });

  it('only ever writes characters Node accepts in a header', () => {
    for (const name of ['a\r\nSet-Cookie: x=1', '\u0000\u00ff\u2028', 'back\\slash']) {
      expect(attachment(name)).toMatch(/^[\x20-\x7e]+$/);
    }
  });
});
