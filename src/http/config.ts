import { z } from 'zod';
import { int, list, optionalString } from '../core/config-values.js';
import { ConfigError } from '../core/errors.js';

/** The HTTP server: where it listens, what it accepts, and the admin key. */
export const httpConfigSchema = z.object({
  port: int(0, 65535).default(3000),
  host: z.string().min(1).default('0.0.0.0'),
  /** Largest accepted request body. */
  maxBodyBytes: int(1024, 50_000_000).default(1_048_576),
  /** Largest character card upload (PNG cards carry a picture, so more than MAX_BODY_BYTES). */
  maxCardBytes: int(1024, 100_000_000).default(8_388_608),
  /** How long a request's head and body may take to arrive before the connection is closed. */
  requestTimeoutMs: int(1000, 600_000).default(30_000),
  /** Hosts exempt from the private-address checks on image and webhook URLs. */
  ssrfAllowHosts: list.default([]),
  /** Largest image fetched for an `imageUrl`; counted as it streams, whatever Content-Length says. */
  maxImageBytes: int(1024, 50_000_000).default(5_242_880),
  /** One deadline for fetching an `imageUrl`, from resolving its host to the last byte. */
  imageFetchTimeoutMs: int(100, 120_000).default(10_000),
  /** One deadline per webhook attempt, from resolving the receiver to its answer. */
  webhookTimeoutMs: int(100, 120_000).default(10_000),
  /** API keys whose webhooks are delivered at the same time; one key's go one by one, in order. */
  webhookConcurrency: int(1, 256).default(8),
  /**
   * Which proxies' X-Forwarded-* headers to believe (fastify's trustProxy): none (default), any,
   * or these addresses. Decides the client IP and whether a request came over HTTPS.
   */
  trustProxy: z
    .string()
    .transform((v) => v.trim())
    .refine((v) => /^[\w.:/]*(\s*,\s*[\w.:/]+)*$/.test(v), "must be true, false, or the proxies' addresses (IPs, CIDRs or loopback, comma-separated)")
    .transform((v): boolean | string[] =>
      v === '' || v === 'true' || v === 'false'
        ? v === 'true'
        : v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    )
    .default(false),
  /** Characters one tenant key may own; one more is a 403 QUOTA_EXCEEDED (the admin is not limited). */
  maxCharactersPerKey: int(1, 1_000_000).default(200),
  /** Lorebooks one tenant key may own; one more is a 403 QUOTA_EXCEEDED (the admin is not limited). */
  maxLorebooksPerKey: int(1, 1_000_000).default(200),
  /** Updates-feed long-polls (`wait` > 0) one tenant key may hold open at once; one more is a 429. */
  maxLongPollsPerKey: int(1, 10_000).default(10),
  /** Lifetime of a web console sign-in, in hours. */
  consoleSessionHours: int(1, 24 * 90).default(12),
  adminApiKey: z
    .string()
    .transform((v) => (v.trim() === '' ? undefined : v.trim()))
    .refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters')
    .optional(),
  /**
   * Where the admin key generated on first start is kept when ADMIN_API_KEY is not set. Unset:
   * `admin-api-key` beside the SQLite file (`data/` for PostgreSQL; memory only with `:memory:`).
   */
  adminKeyFile: optionalString,
  /**
   * The address platforms and browsers reach this server at (e.g. https://bot.example.com), for
   * links we hand out: the avatar URLs of characters imported from cards (Discord webhooks).
   */
  publicUrl: optionalString.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), 'must be an http(s) URL'),
  /** When set, `GET /metrics` asks for it as a bearer token (Prometheus' `authorization` setting). */
  metricsToken: optionalString.refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters'),
});

export type HttpConfig = z.infer<typeof httpConfigSchema>;

/**
 * Why the server could not listen, as the variable to change, for the errors a setting causes
 * (the port taken, a privileged port, an address this machine does not have); any other error
 * comes back as it was.
 */
export function listenError(err: unknown, port: number, host: string): unknown {
  const code = (err as { code?: unknown }).code;
  if (code === 'EADDRINUSE')
    return new ConfigError(`PORT ${port} is already in use on ${host} (another charbridge, or another program, listens there). Stop it, or set PORT to a free port, e.g. PORT=${port === 65535 ? 3001 : port + 1}.`);
  if (code === 'EACCES')
    return new ConfigError(`PORT ${port} needs privileges this process does not have (ports below 1024 usually do). Set PORT to 1024 or above, e.g. PORT=3000, and put a reverse proxy in front if it must answer on ${port}.`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new ConfigError(`HOST ${host} is not an address of this machine. Set HOST to one of its addresses, 127.0.0.1 for this machine only, or 0.0.0.0 (the default) for all of them.`);
  return err;
}

