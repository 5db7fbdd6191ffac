import { z } from 'zod';
import { optionalString, optionalUrl } from '../../src/core/config-values.js';

/** A Slack app: Socket Mode with an app token, or HTTP events checked with the signing secret. */
export const slackConfigSchema = z
  .object({
    botToken: z.string().min(1),
    /** `xapp-…` → Socket Mode. */
    appToken: optionalString,
    /** Without an app token → HTTP events at /slack/events, checked with this secret. */
    signingSecret: optionalString,
    /** Web API base (the test fake); Slack's own when unset. */
    apiUrl: optionalUrl,
    command: z.string().regex(/^\/[a-z0-9_-]{1,31}$/, 'must be a slash command like /charbridge').default('/charbridge'),
  })
  .refine((c) => c.appToken || c.signingSecret, {
    path: ['appToken'],
    message:
      'one of SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is required with SLACK_BOT_TOKEN (Socket Mode needs the xapp- app token; HTTP events need the signing secret)',
  });

export type SlackConfig = z.infer<typeof slackConfigSchema>;
