/**
 * Slack's Events API across two instances behind a load balancer: Slack retries an event it
 * thinks was not received (x-slack-retry-num), and the retry may land on the other instance —
 * it is answered once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { appMention, imMessage } from '../fakes/slack-events.js';
import { texts } from '../adapters/slack/world.js';
import { startSlackPair, type SlackPair } from './slack-pair.js';

describe.skipIf(!hasPostgres() || !hasRedis())('Slack events across two instances', () => {
  let pair: SlackPair;
  beforeAll(async () => {
    pair = await startSlackPair();
  });
  afterAll(() => pair?.close());

  it('answers an event once when its retry lands on the other instance', async () => {
    const { slack, openai, instances } = pair;
    const mention = appMention({ channel: 'C0CLUSTER', user: 'U0ALICE', text: `<@${slack.botUserId}> once across instances` });
    const first = await slack.postEvent(`${instances[0]!.url}/slack/events`, mention);
    const retry = await slack.postEvent(`${instances[1]!.url}/slack/events`, mention, { eventId: first.eventId, retryNum: 1, retryReason: 'http_timeout' });
    // And the same event delivered to both at once, as a balancer retrying on a slow answer would.
    const dm = imMessage({ channel: 'D0ALICE', user: 'U0ALICE', text: 'twice at once' });
    const [a, b] = await Promise.all([
      slack.postEvent(`${instances[0]!.url}/slack/events`, dm, { eventId: 'Ev0SAMEBOTH' }),
      slack.postEvent(`${instances[1]!.url}/slack/events`, dm, { eventId: 'Ev0SAMEBOTH', retryNum: 1 }),
    ]);
    expect([first.status, retry.status, a.status, b.status]).toEqual([200, 200, 200, 200]);
    await Promise.all(instances.map((r) => r.engine.drain(10_000)));
    await pair.settled();
    expect(texts(slack, 'C0CLUSTER', mention.ts as string)).toEqual(['Echo: u0alice: once across instances']);
    expect(texts(slack, 'D0ALICE')).toEqual(['Echo: twice at once']);
    expect(openai.requests.filter((r) => JSON.stringify(r.body.messages).includes('once across instances'))).toHaveLength(1);
  }, 30_000);
});
