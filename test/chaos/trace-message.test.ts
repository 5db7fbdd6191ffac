import { describe, expect, it } from 'vitest';
import { linesAbout } from './trace-message.js';

const line = (time: number, msg: string, extra: Record<string, unknown>) => JSON.stringify({ level: 20, time, msg, ...extra });

describe("the chaos run's trace of a message through the instances' logs", () => {
  it('lists the lines naming either message from every instance in time order, with the fields that say where each went', () => {
    const a = [
      line(Date.UTC(2026, 0, 1, 0, 0, 2), 'entered the chat line', { eventKey: 'discord:200', ticket: 7, first: false }),
      line(Date.UTC(2026, 0, 1, 0, 0, 5), 'claimed an incoming message', { eventKey: 'discord:999' }),
      'not json discord:100',
    ].join('\n');
    const b = line(Date.UTC(2026, 0, 1, 0, 0, 9), 'discord: read back a channel', { channelId: 'c1', after: '99', messageIds: ['100', '200'] });
    expect(linesAbout([{ name: 'instance-1', text: a }, { name: 'running-1', text: b }], ['discord:100', 'discord:200', '"100"'])).toEqual([
      '00:00:02.000 instance-1 entered the chat line [discord:200] eventKey=discord:200 ticket=7 first=false',
      '00:00:09.000 running-1 discord: read back a channel ["100"] channelId=c1 after=99',
    ]);
  });
});
