/**
 * A SOCKS5 proxy on 127.0.0.1 or ::1 (RFC 1928, CONNECT only, with RFC 1929's user and password when
 * `credentials` is set), as `ssh -D` or Tor give one: it relays a TCP connection to the target a
 * client names, by address or by name, and knows nothing of what is spoken over it. A client that
 * offers no login to a proxy that wants one is refused at the method choice; a wrong login at the
 * sub-negotiation, as a real proxy does. `seen` records every target asked for, so a test can
 * tell which calls went through it and whether the proxy or the client resolved the name.
 */
import { connect, createServer, isIP, type AddressInfo, type Socket } from 'node:net';

export interface SocksRequest {
  /** `host:port` as the client named it (an address, or a name for the proxy to resolve). */
  target: string;
  /** How the client named the host. */
  by: 'ipv4' | 'ipv6' | 'name';
  /** The user the client logged in as, if any. */
  user?: string;
  /** The first request line relayed over it, when the client spoke plain HTTP (`GET /socket?… HTTP/1.1`). */
  firstLine?: string;
}

export interface FakeSocks {
  /** `socks5h://user:password@127.0.0.1:port` with the credentials, else without (`[::1]` on IPv6). */
  url: string;
  port: number;
  seen: SocksRequest[];
  /** Client connections accepted (a kept-alive connection carries many requests). */
  connections(): number;
  close(): Promise<void>;
}

export async function startFakeSocks(opts: { credentials?: string; host?: '127.0.0.1' | '::1' } = {}): Promise<FakeSocks> {
  const seen: SocksRequest[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const [wantUser, wantPass] = opts.credentials ? splitOnce(opts.credentials) : [];

  const server = createServer((client) => {
    accepted++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    void serve(client).catch(() => client.destroy());
  });

  async function serve(client: Socket): Promise<void> {
    const read = reader(client);
    const [version, methods] = await read(2);
    if (version !== 5) return void client.destroy();
    const offered = [...(await read(methods!))];
    let user: string | undefined;
    if (wantUser !== undefined) {
      if (!offered.includes(2)) return void client.end(Buffer.from([5, 0xff]));
      client.write(Buffer.from([5, 2]));
      const [, ulen] = await read(2);
      user = (await read(ulen!)).toString();
      const [plen] = await read(1);
      const pass = (await read(plen!)).toString();
      if (user !== wantUser || pass !== wantPass) return void client.end(Buffer.from([1, 1]));
      client.write(Buffer.from([1, 0]));
    } else {
      if (!offered.includes(0)) return void client.end(Buffer.from([5, 0xff]));
      client.write(Buffer.from([5, 0]));
    }
    const [, command, , kind] = await read(4);
    let host: string;
    let by: SocksRequest['by'];
    if (kind === 1) {
      host = [...(await read(4))].join('.');
      by = 'ipv4';
    } else if (kind === 4) {
      const b = await read(16);
      host = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
      by = 'ipv6';
    } else {
      const [len] = await read(1);
      host = (await read(len!)).toString();
      by = 'name';
    }
    const port = (await read(2)).readUInt16BE(0);
    const request: SocksRequest = { target: `${host}:${port}`, by, ...(user !== undefined ? { user } : {}) };
    seen.push(request);
    const reply = (code: number) => Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
    if (command !== 1) return void client.end(reply(7));
    // Names outside this machine do not resolve here; a test's target is on 127.0.0.1.
    const upstream = connect({ host: by === 'name' && !isIP(host) && host !== 'localhost' ? '127.0.0.1' : host, port });
    upstream.once('error', () => client.end(reply(5)));
    upstream.once('connect', () => {
      client.write(reply(0));
      const rest = read.rest();
      if (rest.length) upstream.write(rest);
      const firstLine = (chunk: Buffer) => {
        const line = /^[A-Z]+ \S+ HTTP\/1\.[01]/.exec(chunk.subarray(0, 2048).toString('latin1'));
        if (line) request.firstLine = line[0];
      };
      if (rest.length) firstLine(rest);
      else client.once('data', firstLine);
      client.pipe(upstream).pipe(client);
      upstream.on('error', () => client.destroy());
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
    });
  }

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject); // ::1 on a machine without IPv6
    server.listen(0, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const login = opts.credentials ? `${opts.credentials.split(':').map(encodeURIComponent).join(':')}@` : '';
  return {
    url: `socks5h://${login}${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    seen,
    connections: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function splitOnce(credentials: string): [string, string] {
  const i = credentials.indexOf(':');
  return [credentials.slice(0, i), credentials.slice(i + 1)];
}

/** Reads exact byte counts off a socket during the handshake; what came after it is handed on. */
function reader(socket: Socket): ((n: number) => Promise<Buffer>) & { rest(): Buffer } {
  let buffered = Buffer.alloc(0);
  let waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    settle();
  };
  const settle = () => {
    if (waiting && buffered.length >= waiting.n) {
      const { n, resolve } = waiting;
      waiting = undefined;
      const out = buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      resolve(out);
    }
  };
  socket.on('data', onData);
  socket.once('close', () => waiting?.reject(new Error('closed during the handshake')));
  const read = (n: number) =>
    new Promise<Buffer>((resolve, reject) => {
      waiting = { n, resolve, reject };
      settle();
    });
  return Object.assign(read, {
    rest: () => {
      socket.off('data', onData);
      const out = buffered;
      buffered = Buffer.alloc(0);
      return out;
    },
  });
}
