/**
 * Loads discord.js for transport.ts, with its gateway WebSocket able to go through the outbound
 * proxy. @discordjs/ws opens that socket with `ws` and gives it no agent, and takes no option for
 * one: it keeps the constructor `require('ws').WebSocket` names when it loads. So before
 * discord.js loads, that export becomes a subclass of `ws`'s own WebSocket that adds the agent
 * chosen for the gateway's address (a CONNECT tunnel or a SOCKS5 relay, as
 * ../../src/core/network.ts decides) — chosen by the client whose login, or a reconnect
 * descending from it, opens the socket (an AsyncLocalStorage, so two clients in one process keep
 * their own). Outside a login with a proxy it is `ws` unchanged.
 *
 * discord.js is required here, not imported: Node runs a CommonJS package an ES module imports
 * before any module of the importing graph, so no import placed ahead of it could come first.
 * If something loaded discord.js earlier anyway, `gatewayProxyInstalled` says so, the gateway
 * connects directly as it did before, and the transport's start warns.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Agent } from 'node:http';
import { createRequire } from 'node:module';

/** The agent for a gateway URL; undefined: directly. */
export type GatewayAgentFor = (url: string) => Agent | undefined;

interface Installed {
  readonly logins: AsyncLocalStorage<GatewayAgentFor>;
  /** @discordjs/ws was not loaded yet when the subclass went in, so it uses it. */
  readonly inTime: boolean;
}

type WsConstructor = new (address: string | URL | null, protocols?: string | string[], options?: object) => object;

// Kept on `ws` itself: a second copy of this module (a test runner's fresh module graph) finds
// the subclass @discordjs/ws already holds, and the one store it reads.
const MARK = Symbol.for('charbridge.discord.gatewaySocket');

function install(): Installed {
  // The very `ws` and @discordjs/ws discord.js loads, wherever npm placed them.
  const fromDiscordJs = createRequire(createRequire(import.meta.url).resolve('discord.js'));
  const discordWs = fromDiscordJs.resolve('@discordjs/ws');
  const fromDiscordWs = createRequire(discordWs);
  const ws = fromDiscordWs('ws') as { WebSocket: WsConstructor; [MARK]?: Installed };
  const already = ws[MARK];
  if (already) return already;
  const installed: Installed = { logins: new AsyncLocalStorage(), inTime: !fromDiscordWs.cache[discordWs] };
  const Original = ws.WebSocket;
  class GatewaySocket extends Original {
    constructor(address: string | URL | null, protocols?: string | string[], options?: object) {
      const agent = address === null ? undefined : installed.logins.getStore()?.(String(address));
      super(address, protocols, agent ? { ...options, agent } : options);
    }
  }
  ws.WebSocket = GatewaySocket;
  ws[MARK] = installed;
  return installed;
}

const installed = install();

/** discord.js, loaded once its gateway socket can take an agent. */
export const discordJs = createRequire(import.meta.url)('discord.js') as typeof import('discord.js');

/** Whether discord.js will open its gateway through `withGatewayAgent`'s agent (false: it was loaded before this module). */
export const gatewayProxyInstalled = installed.inTime;

/** Run `login` (discord.js's `client.login`) so that its gateway sockets, reconnects included, use `agentFor`. */
export function withGatewayAgent<T>(agentFor: GatewayAgentFor | undefined, login: () => Promise<T>): Promise<T> {
  return agentFor ? installed.logins.run(agentFor, login) : login();
}
