/**
 * A forward proxy on 127.0.0.1, as a firewall's egress proxy behaves: an `http://` request comes
 * in absolute form (`GET http://host/path`) and is forwarded; anything else, `https://`, `wss://`
 * or a client that tunnels every request, asks `CONNECT host:port` and gets a raw tunnel. With
 * `credentials` set it answers 407 to a request without that `Proxy-Authorization`, as a proxy
 * that needs a login does. `seen` records every request it was asked to carry, by target, so a
 * test can tell which calls went through it and which went around it.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  /** `CONNECT` or the forwarded request's method. */
  method: string;
  /** `host:port` for a tunnel, the absolute URL for a forwarded request. */
  target: string;
  /** The `Proxy-Authorization` header the client sent, if any. */
  auth?: string;
}

export interface FakeProxy {
  url: string;
  /** Every request asked of it, refused ones included, in order. */
  seen: ProxiedRequest[];
  /** Client connections it accepted (kept-alive requests share one). */
  connections(): number;
  close(): Promise<void>;
}

export interface FakeProxyOptions {
  /** `user:password` the proxy requires (Basic); unset: anyone may use it. */
  credentials?: string;
}

export async function startFakeProxy(opts: FakeProxyOptions = {}): Promise<FakeProxy> {
  const seen: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const expected = opts.credentials ? `Basic ${Buffer.from(opts.credentials).toString('base64')}` : undefined;
  const allowed = (req: IncomingMessage) => !expected || req.headers['proxy-authorization'] === expected;
  const note = (req: IncomingMessage, target: string) =>
    seen.push({ method: req.method ?? '', target, ...(req.headers['proxy-authorization'] ? { auth: String(req.headers['proxy-authorization']) } : {}) });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '';
    note(req, target);
    if (!/^https?:\/\//.test(target)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('a proxy request names an absolute URL');
      return;
    }
    if (!allowed(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="fake"' }).end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = request(target, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    req.pipe(upstream);
  });

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    note(req, target);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (!allowed(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = splitHostPort(target);
    const upstream = connect(port, host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => (sockets.delete(upstream), client.destroy()));
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
  });
  server.on('connection', (s: Socket) => (accepted++, sockets.add(s), s.on('close', () => sockets.delete(s))));

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function splitHostPort(target: string): [string, number] {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i).replace(/^\[|\]$/g, '');
  return [host, Number(target.slice(i + 1))];
}
