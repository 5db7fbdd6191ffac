/**
 * `npm start` where the port is taken (a second charbridge, another program), needs a privilege
 * the process lacks, or the address is not this machine's: the error names the variable to change and how, with no stack trace, and
 * the process exits 78 as for any configuration error.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { listenError } from '../../src/http/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { launchInstance, type LaunchedInstance } from '../cluster/child-instance.js';
import { withoutCapabilities } from '../helpers/capabilities.js';

let taken: Server | undefined;
let child: LaunchedInstance | undefined;
let dir: string | undefined;
afterEach(async () => {
  await child?.kill();
  await new Promise<void>((r) => (taken ? taken.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = taken = dir = undefined;
});

/** The error listening on `port` at `host` fails with. */
function failedListen(port: number, host: string): Promise<Error> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', resolve);
    s.listen(port, host, () => s.close(() => reject(new Error(`listening on ${host}:${port} worked`))));
  });
}

it('a taken PORT stops the start with the variable and a free one to try, exit 78, no stack', async () => {
  taken = createServer();
  await new Promise<void>((r) => taken!.listen(0, '127.0.0.1', r));
  const port = (taken.address() as AddressInfo).port;
  dir = mkdtempSync(join(tmpdir(), 'charbridge-port-taken-'));
  child = await launchInstance({ DATABASE_URL: join(dir, 'charbridge.db'), PORT: String(port) });
  await child.closed; // exited, and what it wrote read to the end
  expect(child.process.exitCode, child.output()).toBe(78);
  expect(child.output()).toContain(`PORT ${port} is already in use on 127.0.0.1 (another charbridge, or another program, listens there). Stop it, or set PORT to a free port, e.g. PORT=${port + 1}.`);
  expect(child.output()).not.toMatch(/\n\s+at /);
}, 60_000);

it('a PORT below 1024 without the privilege names PORT and the way round it, exit 78, no stack', async (ctx) => {
  const listenOnPort1 = "require('net').createServer().listen(1, '127.0.0.1', () => process.exit(0)).on('error', (e) => { console.log(e.code); process.exit(1); })";
  const prefix = withoutCapabilities(['net_bind_service'], listenOnPort1, 'EACCES');
  if (!prefix) return ctx.skip();
  dir = mkdtempSync(join(tmpdir(), 'charbridge-port-privileged-'));
  child = await launchInstance({ DATABASE_URL: join(dir, 'charbridge.db'), PORT: '1' }, undefined, { prefix });
  await child.closed; // exited, and what it wrote read to the end
  expect(child.process.exitCode, child.output()).toBe(78);
  expect(child.output()).toContain('PORT 1 needs privileges this process does not have (ports below 1024 usually do). Set PORT to 1024 or above, e.g. PORT=3000, and put a reverse proxy in front if it must answer on 1.');
  expect(child.output()).not.toMatch(/\n\s+at /);
}, 60_000);

it('a HOST that is not this machine names HOST; other errors pass through unchanged', async () => {
  const err = listenError(await failedListen(0, '192.0.2.1'), 3000, '192.0.2.1');
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toBe('HOST 192.0.2.1 is not an address of this machine. Set HOST to one of its addresses, 127.0.0.1 for this machine only, or 0.0.0.0 (the default) for all of them.');
  const other = Object.assign(new Error('boom'), { code: 'EMFILE' });
  expect(listenError(other, 3000, '0.0.0.0')).toBe(other);
});
