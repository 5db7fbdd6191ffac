import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs with two guards against leaking secrets: pino's `redact` for fields we know
 * (authorization headers, api keys), and a final pass over every written line that replaces any
 * configured secret value — so a bot token inside a library's error URL is scrubbed too.
 */
export function createLogger(opts: { level: string; secrets?: string[]; destination?: pino.DestinationStream }): Logger {
  const secrets = [...new Set(opts.secrets ?? [])].filter((s) => s.length >= 6);
  const scrub = (line: string) => {
    let out = line;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out;
  };
  return pino(
    {
      level: opts.level,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'req.headers["x-telegram-bot-api-secret-token"]',
          'headers.authorization',
          'headers["x-api-key"]',
          '*.apiKey',
          '*.token',
          '*.key',
          '*.webhookSecret',
          'apiKey',
          'token',
          'webhookSecret',
        ],
        censor: '[REDACTED]',
      },
      hooks: secrets.length ? { streamWrite: scrub } : {},
    },
    opts.destination,
  );
}
