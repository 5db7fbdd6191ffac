/**
 * The fetch the SDKs are given (src/core/http-fetch.ts): an https address goes through TLS (real
 * model providers and Slack are https), and plain http keeps its connection for the next call.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { keepAliveFetch } from '../../src/core/http-fetch.js';

interface Reply {
  status: number;
  text(): Promise<string>;
}

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

describe('keepAliveFetch', () => {
  it('speaks TLS to an https address: a server answering in plain text is a TLS failure, not a refused protocol', async () => {
    const plain = createTcpServer((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    closers.push(() => plain.close());
    const { port } = plain.address() as AddressInfo;
    const err = (await keepAliveFetch(`https://127.0.0.1:${port}/v1/models`).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    // An http agent given an https address would throw "Protocol "https:" not supported".
    expect(err.message).not.toMatch(/Protocol/);
    expect(err.code).toBe('EPROTO');
  });

  it('reuses one connection for calls one after another over http', async () => {
    const sockets = new Set<unknown>();
    const server: Server = createHttpServer((req, res) => {
      sockets.add(req.socket);
      res.end(`hello ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const { port } = server.address() as AddressInfo;
    for (const path of ['/a', '/b', '/c']) {
      const res = (await keepAliveFetch(`http://127.0.0.1:${port}${path}`, { method: 'GET' })) as Reply;
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`hello ${path}`);
    }
    expect(sockets.size).toBe(1);
  });
});
