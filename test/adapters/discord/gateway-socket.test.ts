/**
 * Discord's gateway socket takes the proxy's agent only when ./gateway-socket.ts replaced `ws`'s
 * WebSocket before @discordjs/ws loaded. In a fresh process, as `npm start` runs: the Discord
 * transport (the only user of discord.js) installs it in time; discord.js loaded first leaves the
 * gateway direct, the module says so, and a transport logging in through a proxy warns.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function inFreshProcess(script: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 }).trim();
}

describe("the gateway socket's agent", () => {
  it('is installed before discord.js loads when the transport is imported', () => {
    const out = inFreshProcess(`
      await import(${JSON.stringify(join(root, 'adapters/discord/transport.ts'))});
      const g = await import(${JSON.stringify(join(root, 'adapters/discord/gateway-socket.ts'))});
      const { createRequire } = await import('node:module');
      const ws = createRequire(createRequire(import.meta.url).resolve('@discordjs/ws'))('ws');
      console.log(JSON.stringify({ inTime: g.gatewayProxyInstalled, subclass: ws.WebSocket !== Object.getPrototypeOf(ws.WebSocket) && Object.getPrototypeOf(ws.WebSocket) === ws }));
    `);
    expect(JSON.parse(out)).toEqual({ inTime: true, subclass: true });
  });

  it('says it came too late when discord.js was loaded first', () => {
    const out = inFreshProcess(`
      await import('discord.js');
      const g = await import(${JSON.stringify(join(root, 'adapters/discord/gateway-socket.ts'))});
      console.log(JSON.stringify({ inTime: g.gatewayProxyInstalled }));
    `);
    expect(JSON.parse(out)).toEqual({ inTime: false });
  });

  it('is missed, and the start says the gateway went around the proxy, when discord.js was loaded first', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'test/adapters/discord/gateway-late-child.ts')], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      warnings: [
        "Discord's gateway connected directly, not through the proxy: discord.js was loaded before charbridge could hand its WebSocket the proxy (REST calls and downloads still use it).",
      ],
      tunnels: 0,
      restProxied: true,
    });
  });
});
