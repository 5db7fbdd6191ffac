import { z } from 'zod';
import { optionalUrl } from '../../src/core/config-values.js';

/** A Telegram bot: its token, an optional self-hosted Bot API server, and webhook mode. */
export const telegramConfigSchema = z
  .object({
    token: z.string().min(1),
    /** A self-hosted Bot API server (or the test fake); a bare origin. */
    apiRoot: optionalUrl,
    /** Set → webhook mode, served by our HTTP server at this URL's path. */
    webhookUrl: optionalUrl,
    webhookSecret: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, _ or -')
      .optional(),
  })
  .refine((c) => !c.webhookUrl || c.webhookSecret, {
    path: ['webhookSecret'],
    message: 'required when TELEGRAM_WEBHOOK_URL is set, so forged updates are refused. Set it to a random string of A-Z, a-z, 0-9, _ or -',
  });

export type TelegramConfig = z.infer<typeof telegramConfigSchema>;
