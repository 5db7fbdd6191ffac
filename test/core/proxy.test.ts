import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { proxyFor, proxyPasswords, proxyPort, readProxySettings, redactProxy } from '../../src/core/proxy.js';
import { proxyNotes, unreachableProxies } from '../../src/proxy-notes.js';
import { startFakeProxy } from '../fakes/proxy.js';
import { freePort } from '../cluster/child-instance.js';

const settings = (env: Record<string, string>) => readProxySettings(env).settings;

describe('reading the proxy variables', () => {
  it('takes each kind of target from its own variable, lower case first, ALL_PROXY for either', () => {
    expect(settings({ HTTPS_PROXY: 'http://a:1', http_proxy: 'http://b:2', HTTP_PROXY: 'http://c:3' })).toMatchObject({
      httpsProxy: 'http://a:1', httpProxy: 'http://b:2', from: { https: 'HTTPS_PROXY', http: 'http_proxy' },
    });
    expect(settings({ ALL_PROXY: 'http://all:8080' })).toMatchObject({ httpsProxy: 'http://all:8080', httpProxy: 'http://all:8080', from: { https: 'ALL_PROXY', http: 'ALL_PROXY' } });
    // One set to nothing asks for no proxy for its kind, whatever ALL_PROXY says.
    expect(settings({ HTTPS_PROXY: '', ALL_PROXY: 'http://all:8080' })).toMatchObject({ httpsProxy: '', httpProxy: 'http://all:8080' });
    expect(settings({ no_proxy: 'a.example', NO_PROXY: 'b.example' }).noProxy).toBe('a.example');
  });

  it('takes an address without a scheme as http://, SOCKS5 as written, and refuses what no proxy agent here can use', () => {
    expect(settings({ HTTPS_PROXY: 'proxy.corp:3128' }).httpsProxy).toBe('http://proxy.corp:3128');
    expect(settings({ ALL_PROXY: 'socks5h://u:hunter22@127.0.0.1:1080' })).toMatchObject({ httpsProxy: 'socks5h://u:hunter22@127.0.0.1:1080', httpProxy: 'socks5h://u:hunter22@127.0.0.1:1080' });
    expect(readProxySettings({ HTTPS_PROXY: 'socks5://proxy:1080' }).problems).toEqual([]);
    // A port left out means SOCKS's own, or the HTTP proxy scheme's.
    expect([proxyPort(new URL('socks5h://proxy')), proxyPort(new URL('http://proxy')), proxyPort(new URL('https://proxy'))]).toEqual([1080, 80, 443]);
    expect(readProxySettings({ HTTPS_PROXY: 'socks4://u:hunter22@proxy:1080' }).problems).toEqual([
      '  HTTPS_PROXY: only SOCKS version 5 is supported, written socks5:// (names resolved here) or socks5h:// (names resolved by the proxy) (got "socks4://u:***@proxy:1080").',
    ]);
    expect(readProxySettings({ HTTPS_PROXY: 'ftp://proxy:21' }).problems).toEqual([
      '  HTTPS_PROXY: only http://, https://, socks5:// and socks5h:// proxies are supported, not ftp:// (got "ftp://proxy:21"). Point it at an HTTP proxy (for example http://proxy.example:3128) or a SOCKS5 one (socks5h://127.0.0.1:1080), or unset it.',
    ]);
    expect(readProxySettings({ http_proxy: 'http://exa mple:80' }).problems).toEqual([
      '  http_proxy: not a proxy address (got "http://exa mple:80"). Write it as http://host:port, or http://user:password@host:port.',
    ]);
  });

  it('stops the start with the variable named, and scrubs a proxy password from the logs', () => {
    expect(() => loadConfig({ HTTPS_PROXY: 'socks://proxy:1080' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTPS_PROXY: 'socks://proxy:1080' })).toThrow(/HTTPS_PROXY: only SOCKS version 5 is supported/);
    expect(loadConfig({ ALL_PROXY: 'socks5h://egress:hunter22@127.0.0.1:1080' }).secrets).toContain('hunter22');
    const config = loadConfig({ HTTPS_PROXY: 'http://egress:p%40ssw0rd@proxy:3128' });
    expect(config.secrets).toEqual(expect.arrayContaining(['p@ssw0rd', 'p%40ssw0rd']));
    expect(proxyPasswords(settings({ HTTPS_PROXY: 'http://proxy:3128' }))).toEqual([]);
    expect(redactProxy('http://egress:p%40ssw0rd@proxy:3128')).toBe('http://egress:***@proxy:3128');
    expect(redactProxy('http://proxy:3128')).toBe('http://proxy:3128');
  });
});

describe('which targets a proxy carries', () => {
  const s = settings({ HTTPS_PROXY: 'http://tls-proxy:3128', HTTP_PROXY: 'http://plain-proxy:3128', NO_PROXY: 'internal.example, .corp.example,*.lab.example, models.example:8443, [::1]' });

  it('picks the proxy by scheme, WebSockets with their plain or TLS kin', () => {
    expect(proxyFor(s, 'https://api.openai.com/v1')).toBe('http://tls-proxy:3128');
    expect(proxyFor(s, 'wss://wss-primary.slack.com/link')).toBe('http://tls-proxy:3128');
    expect(proxyFor(s, 'http://example.org/')).toBe('http://plain-proxy:3128');
    expect(proxyFor(s, 'ws://example.org/')).toBe('http://plain-proxy:3128');
  });

  it('goes directly to NO_PROXY hosts, their subdomains, and a listed port only on that port', () => {
    expect(proxyFor(s, 'https://internal.example/x')).toBeUndefined();
    expect(proxyFor(s, 'https://api.internal.example/x')).toBeUndefined();
    expect(proxyFor(s, 'https://notinternal.example/x')).toBe('http://tls-proxy:3128');
    expect(proxyFor(s, 'https://corp.example/')).toBeUndefined();
    expect(proxyFor(s, 'https://a.b.lab.example/')).toBeUndefined();
    expect(proxyFor(s, 'https://models.example:8443/v1')).toBeUndefined();
    expect(proxyFor(s, 'https://models.example/v1')).toBe('http://tls-proxy:3128');
    expect(proxyFor(s, 'http://[::1]:11434/v1')).toBeUndefined();
    expect(proxyFor(settings({ HTTPS_PROXY: 'http://p:1', NO_PROXY: '*' }), 'https://anything.example')).toBeUndefined();
  });
});

describe('what the start-up log says about the proxy', () => {
  it('nothing without one', () => {
    expect(proxyNotes(loadConfig({}))).toEqual({ fixes: [] });
  });

  it('warns that a local model would go to a proxy elsewhere', () => {
    const notes = proxyNotes(
      loadConfig({ HTTP_PROXY: 'http://egress:hunter22@proxy.corp:3128', OPENAI_BASE_URL: 'http://localhost:11434/v1', DISCORD_TOKEN: 'discord-token-0123456789' }),
    );
    expect(notes.info).toBe('Outbound calls (model, platforms, downloads, webhooks, image URLs): https:// directly, http:// through http://egress:***@proxy.corp:3128 (HTTP_PROXY).');
    expect(notes.fixes).toEqual([
      'OPENAI_BASE_URL (http://localhost:11434/v1) is on this machine but would go through the proxy http://egress:***@proxy.corp:3128, which cannot reach it: add localhost to NO_PROXY.',
    ]);
    const listed = proxyNotes(loadConfig({ HTTP_PROXY: 'http://proxy.corp:3128', NO_PROXY: 'localhost', OPENAI_BASE_URL: 'http://localhost:11434/v1' }));
    expect(listed.fixes).toEqual([]);
    expect(listed.info).toContain('; NO_PROXY: localhost.');
  });
});

describe('asking at start whether the proxy answers', () => {
  it('names the variable of a proxy nothing listens on, and says nothing of one that answers', async () => {
    const closed = await freePort();
    expect(await unreachableProxies(settings({ HTTPS_PROXY: `http://egress:hunter22@127.0.0.1:${closed}` }))).toEqual([
      `HTTPS_PROXY: the proxy http://egress:***@127.0.0.1:${closed} cannot be reached (ECONNREFUSED); every call through it fails until it can. Check the address and port.`,
    ]);
    const proxy = await startFakeProxy();
    try {
      expect(await unreachableProxies(settings({ HTTPS_PROXY: proxy.url, http_proxy: `http://127.0.0.1:${closed}` }))).toEqual([
        `http_proxy: the proxy http://127.0.0.1:${closed} cannot be reached (ECONNREFUSED); every call through it fails until it can. Check the address and port.`,
      ]);
      expect(await unreachableProxies(settings({ ALL_PROXY: proxy.url }))).toEqual([]);
      // Asking is not using: the proxy carried nothing.
      expect(proxy.seen).toEqual([]);
    } finally {
      await proxy.close();
    }
    expect(await unreachableProxies(settings({}))).toEqual([]);
  });
});
