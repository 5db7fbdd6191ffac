/**
 * Webhook delivery for the fake Telegram server (./telegram.ts): POSTs an update as JSON with
 * `X-Telegram-Bot-Api-Secret-Token`, the way Telegram calls a bot's webhook. Telegram keeps its
 * connections to a webhook open between updates, so `WebhookClient` does too (a keep-alive
 * agent); `postOnce` opens a fresh connection, for tests that look at a single request.
 */
import { Agent, request as httpRequest } from 'node:http';

export interface WebhookAnswer {
  status: number;
  body: string;
  contentType: string;
}

/** One POST of `update` to `url`; resolves with the bot's answer. */
export function postUpdate(url: string, update: object, secretToken: string | undefined, agent: Agent | false): Promise<WebhookAnswer> {
  const payload = JSON.stringify(update);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  if (secretToken !== undefined) headers['x-telegram-bot-api-secret-token'] = secretToken;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Delivers to one webhook over reused connections (Telegram's `max_connections`, default 40). */
export class WebhookClient {
  private readonly agent: Agent;

  constructor(maxConnections = 40) {
    this.agent = new Agent({ keepAlive: true, maxSockets: maxConnections });
  }

  post(url: string, update: object, secretToken: string | undefined): Promise<WebhookAnswer> {
    return postUpdate(url, update, secretToken, this.agent);
  }

  close(): void {
    this.agent.destroy();
  }
}
