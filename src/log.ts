import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type pinoPretty from 'pino-pretty';

/** pino-pretty is loaded only for readable logs: a server writing JSON lines never pays its memory. */
const loadPretty = () => createRequire(import.meta.url)('pino-pretty') as typeof pinoPretty;

export type { Logger };

/** `pretty`: one readable line per entry (a person at a terminal); `json`: JSON lines (a log shipper). */
export type LogFormat = 'pretty' | 'json';

/** LOG_FORMAT's `auto`: readable when a person watches the terminal, JSON when the output is piped or collected. */
export function resolveLogFormat(setting: 'auto' | LogFormat, stdoutIsTTY = process.stdout.isTTY === true): LogFormat {
  return setting === 'auto' ? (stdoutIsTTY ? 'pretty' : 'json') : setting;
}

export interface LoggerOptions {
  level: string;
  secrets?: string[];
  /** Default `json`. */
  format?: LogFormat;
  /** Where lines go (default stdout); in `pretty` format the readable text is written here. */
  destination?: pino.DestinationStream | NodeJS.WritableStream;
  /** Colours in `pretty` format; default: when writing to a terminal. */
  colorize?: boolean;
}

/**
 * Anything shaped like a tenant API key (`cb_` and 43 base64url characters, as `generateApiKey`
 * makes them). Keys are made at run time, so no list of values can name them; a client that puts
 * one in a query string (`?api_key=`) or where an id goes would otherwise have it logged with the URL.
 */
const API_KEY_SHAPE = /cb_[A-Za-z0-9_-]{43}/g;

/**
 * Structured logs with three guards against leaking secrets: pino's `redact` for fields we know
 * (authorization headers, api keys), and a final pass over every serialized line that replaces
 * any configured secret value — so a bot token inside a library's error URL is scrubbed too —
 * and anything shaped like a tenant's API key. The pass runs on the JSON line before pino-pretty
 * reads it, so both formats are scrubbed.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const secrets = [...new Set(opts.secrets ?? [])].filter((s) => s.length >= 6);
  const scrub = (line: string) => {
    let out = line;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out.includes('cb_') ? out.replace(API_KEY_SHAPE, 'cb_[REDACTED]') : out;
  };
  const destination =
    opts.format === 'pretty'
      ? loadPretty()({
          destination: opts.destination ?? 1,
          sync: true,
          colorize: opts.colorize ?? (opts.destination === undefined && process.stdout.isTTY === true),
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        })
      : (opts.destination as pino.DestinationStream | undefined);
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
      hooks: { streamWrite: scrub },
    },
    destination,
  );
}
