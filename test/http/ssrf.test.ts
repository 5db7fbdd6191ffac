import { describe, expect, it } from 'vitest';
import { checkResolvedUrl, checkUrlLiteral, isBlockedAddress } from '../../src/core/ssrf.js';

const none = { allowHosts: [] as string[] };

describe('isBlockedAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a00:1',
    '2002:7f00:1::',
    '::ffff:0:127.0.0.1', // IPv4-translated (SIIT)
    '64:ff9b:1::a9fe:a9fe', // local-use NAT64
    '64:ff9b:1::808:808', // local-use NAT64, whatever it embeds
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
    '::ffff:0:0:7f00:1', // outside global unicast
    '[::1]',
    'not-an-ip',
  ])('refuses %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:0808:0808::'])('allows public %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(false);
  });
});

describe('checkUrlLiteral', () => {
  it.each([
    ['http://127.0.0.1/a.png', 'loopback'],
    ['http://localhost:8080/a.png', 'loopback'],
    ['http://LOCALHOST./a.png', 'loopback'],
    ['http://api.localhost/a.png', 'loopback'],
    ['http://[::1]/a.png', 'loopback'],
    ['http://[::ffff:127.0.0.1]/a.png', 'loopback'],
    ['http://[fe80::1]/a.png', 'loopback'],
    ['http://2130706433/a.png', 'loopback'], // decimal 127.0.0.1
    ['http://0x7f.1/a.png', 'loopback'], // hex shorthand
    ['http://169.254.169.254/latest/meta-data', 'loopback'],
    ['http://10.0.0.5/x', 'loopback'],
    ['ftp://example.com/a.png', 'http(s)'],
    ['file:///etc/passwd', 'http(s)'],
    ['data:image/png;base64,AAAA', 'http(s)'],
    ['not a url', 'valid URL'],
  ])('refuses %s', (url, reason) => {
    const r = checkUrlLiteral(url, none);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('lets hostnames through (they are judged where they are fetched) and public literals', () => {
    expect(checkUrlLiteral('https://images.example.com/cat.png', none).ok).toBe(true);
    expect(checkUrlLiteral('http://93.184.216.34/cat.png', none).ok).toBe(true);
  });

  it('exempts SSRF_ALLOW_HOSTS, with or without the port', () => {
    expect(checkUrlLiteral('http://127.0.0.1:9000/a.png', { allowHosts: ['127.0.0.1'] }).ok).toBe(true);
    expect(checkUrlLiteral('http://localhost:9000/a.png', { allowHosts: ['localhost:9000'] }).ok).toBe(true);
    expect(checkUrlLiteral('http://[::1]:9000/a.png', { allowHosts: ['::1'] }).ok).toBe(true);
    expect(checkUrlLiteral('http://10.0.0.1/a.png', { allowHosts: ['127.0.0.1'] }).ok).toBe(false);
  });
});

describe('checkResolvedUrl (for code that fetches)', () => {
  it('refuses a hostname with any private address, and returns the addresses it judged to connect to', async () => {
    const lookup = async (host: string) => (host === 'evil.example' ? ['93.184.216.34', '10.0.0.1'] : ['93.184.216.34', '2606:4700:4700::1111']);
    expect((await checkResolvedUrl('https://evil.example/hook', none, lookup)).ok).toBe(false);
    expect(await checkResolvedUrl('https://good.example/hook', none, lookup)).toMatchObject({ ok: true, host: 'good.example', addresses: ['93.184.216.34', '2606:4700:4700::1111'] });
    expect((await checkResolvedUrl('https://gone.example/hook', none, async () => [])).ok).toBe(false);
  });

  it('resolves allow-listed hosts too (to pin them) without judging, and never resolves a literal', async () => {
    expect(await checkResolvedUrl('http://dev.local:9000/x', { allowHosts: ['dev.local'] }, async () => ['127.0.0.1'])).toMatchObject({ ok: true, allowed: true, addresses: ['127.0.0.1'] });
    expect(await checkResolvedUrl('http://[2606:4700:4700::1111]/x', none, async () => ['10.0.0.1'])).toMatchObject({ ok: true, addresses: ['2606:4700:4700::1111'] });
  });
});
