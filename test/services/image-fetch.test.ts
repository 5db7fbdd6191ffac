import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFetcher } from '../../src/services/image-fetch.js';
import { ManualTimers, pinnedResolver, TestServer, TINY_PNG as PNG, trickle } from '../helpers/net.js';
const MAX = 4096;

let images: TestServer;
const timers = new ManualTimers();
const resolve = pinnedResolver({
  'images.test': ['127.0.0.1'],
  'ip6-localhost': ['::1'],
  'inside.test': ['10.0.0.7'],
  'mixed.test': ['93.184.216.34', '127.0.0.1'],
  'nat64.test': ['64:ff9b::7f00:1'],
});
const fetcher = new ImageFetcher({ allowHosts: ['images.test'], resolve, timer: timers.start, maxBytes: MAX, deadlineMs: 10_000 });

beforeAll(async () => {
  images = await new TestServer((req, res, srv) => {
    const send = (type: string, body: Buffer | string) => res.writeHead(200, { 'content-type': type }).end(body);
    switch (req.path) {
      case '/cat.png':
        return send('image/png', PNG);
      case '/redirect':
        return res.writeHead(302, { location: '/cat.png' }).end();
      case '/big': // chunked: no Content-Length to trust or distrust
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(PNG);
        for (let i = 0; i < 8; i++) res.write(Buffer.alloc(1024));
        return res.end();
      case '/declared-big':
        return res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(MAX * 100) }).end();
      case '/page':
        return send('text/html; charset=utf-8', '<html><body>hi</body></html>');
      case '/disguised':
        return send('image/png', '<html><body>not a picture</body></html>');
      case '/vector':
        return send('image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"><image href="http://10.0.0.1/x"/></svg>');
      case '/slow':
        return trickle(res, srv);
      default:
        return res.writeHead(404).end();
    }
  }).start();
});
afterAll(() => images.close());

const refusal = (message: RegExp) => ({ status: 400, code: 'VALIDATION_ERROR', details: { field: 'imageUrl' }, message: expect.stringMatching(message) });

describe('ImageFetcher', () => {
  it('fetches through the address it resolved and hands the model a data: URL of the bytes', async () => {
    const before = resolve.calls.get('images.test') ?? 0;
    expect(await fetcher.dataUrl(` ${images.url('/cat.png', 'images.test')} `)).toBe(`data:image/png;base64,${PNG.toString('base64')}`);
    expect(resolve.calls.get('images.test')).toBe(before + 1);
  });

  it('refuses every host that is, or resolves to, a non-public address, in any form', async () => {
    const seen = images.received.length;
    const port = images.port;
    const cases: Array<[string, RegExp]> = [
      [`http://ip6-localhost:${port}/cat.png`, /^imageUrl resolves to a loopback/],
      [`http://inside.test:${port}/cat.png`, /^imageUrl resolves to a loopback/],
      [`http://mixed.test:${port}/cat.png`, /^imageUrl resolves to a loopback/],
      [`http://nat64.test:${port}/cat.png`, /^imageUrl resolves to a loopback/],
      [`http://127.0.0.1:${port}/cat.png`, /^imageUrl must not point at a loopback/],
      [`http://localhost:${port}/cat.png`, /^imageUrl must not point at a loopback/],
      [`http://[::ffff:0:127.0.0.1]:${port}/cat.png`, /^imageUrl must not point at a loopback/],
      [`http://[64:ff9b:1::a9fe:a9fe]/latest/meta-data`, /^imageUrl must not point at a loopback/],
      [`http://nowhere.test:${port}/cat.png`, /^imageUrl host could not be resolved/],
      ['file:///etc/passwd', /^imageUrl must be an http\(s\) URL/],
    ];
    for (const [url, message] of cases) await expect(fetcher.dataUrl(url), url).rejects.toMatchObject(refusal(message));
    expect(images.received.length).toBe(seen);
  });

  it('refuses a redirect instead of following it', async () => {
    const seen = images.received.length;
    await expect(fetcher.dataUrl(images.url('/redirect', 'images.test'))).rejects.toMatchObject(refusal(/^imageUrl redirects elsewhere \(HTTP 302\)/));
    expect(images.received.slice(seen).map((r) => r.path)).toEqual(['/redirect']);
  });

  it('counts the body as it streams and stops past MAX_IMAGE_BYTES; a too-large Content-Length is refused unread', async () => {
    await expect(fetcher.dataUrl(images.url('/big', 'images.test'))).rejects.toMatchObject(refusal(/^imageUrl is larger than 4 KB$/));
    await expect(fetcher.dataUrl(images.url('/declared-big', 'images.test'))).rejects.toMatchObject(refusal(/^imageUrl is larger than 4 KB$/));
  });

  it('requires an image Content-Type and bytes that are a PNG, JPEG, GIF or WebP', async () => {
    await expect(fetcher.dataUrl(images.url('/page', 'images.test'))).rejects.toMatchObject(refusal(/^imageUrl is not an image \(Content-Type text\/html\)$/));
    await expect(fetcher.dataUrl(images.url('/disguised', 'images.test'))).rejects.toMatchObject(refusal(/^imageUrl is not a PNG, JPEG, GIF or WebP image/));
    await expect(fetcher.dataUrl(images.url('/vector', 'images.test'))).rejects.toMatchObject(refusal(/^imageUrl is not a PNG, JPEG, GIF or WebP image/));
    await expect(fetcher.dataUrl(images.url('/missing.png', 'images.test'))).rejects.toMatchObject(refusal(/^imageUrl could not be fetched \(the server answered HTTP 404\)$/));
  });

  it('gives the whole fetch one deadline, which a server trickling bytes does not reset', async () => {
    const seen = images.received.length;
    const fetching = fetcher.dataUrl(images.url('/slow', 'images.test'));
    await images.requests(seen + 1);
    expect(timers.fireAll()).toEqual([10_000]);
    await expect(fetching).rejects.toMatchObject(refusal(/^imageUrl took longer than 10 s$/));
  });
});
