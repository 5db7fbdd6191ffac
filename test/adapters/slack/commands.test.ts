import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appMention, imMessage } from '../../fakes/slack.js';
import { seen } from '../../helpers/harness.js';
import { responseTo, startSlackWorld, texts, type SlackWorld } from './world.js';

/** `/charbridge <sub>` over signed HTTP, answered through the response_url. */
describe('Slack slash command', () => {
  let w: SlackWorld;
  const bob = 'U0BOB';
  const admin = 'U0ADMIN';
  const owner = 'U0OWNER';
  const listed = 'U0LISTED';

  beforeAll(async () => {
    w = await startSlackWorld({ mode: 'http', env: { ADMIN_USER_IDS: `slack:${listed}` } });
    w.fake.setUser(admin, { is_admin: true, name: 'ada' });
    w.fake.setUser(owner, { is_owner: true });
  });
  afterAll(async () => {
    await w.close();
  });

  async function slash(text: string, user: string, channel: string) {
    const res = await w.fake.postSlashCommand(w.eventsUrl, { command: '/charbridge', text, user_id: user, channel_id: channel });
    expect(res.status).toBe(200);
    await w.settled();
    const body = responseTo(w.fake, res.responseUrl);
    if (!body) throw new Error(`no answer to "${text}"`);
    return body;
  }

  it('help lists the subcommands in Slack form, privately; admins also see the admin ones', async () => {
    const help = await slash('help', bob, 'D0BOB');
    expect(help.response_type).toBe('ephemeral');
    expect(help.text).toContain('/charbridge clear');
    expect(help.text).toContain('/charbridge character [name]');
    expect(help.text).not.toMatch(/(^|\s)\/(clear|admin)\b/);
    expect(help.text).not.toContain('scope');
    expect((await slash('', admin, 'C0HELP')).text).toContain('/charbridge scope shared|per-user');
  });

  it('clear forgets the DM conversation; in a channel it explains threads instead', async () => {
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0BOB', user: bob, text: 'secret plan' }));
    await w.settled();
    expect(await slash('clear', bob, 'D0BOB')).toEqual({ response_type: 'ephemeral', text: 'Context cleared. I no longer see our earlier messages.' });
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0BOB', user: bob, text: 'what was the plan?' }));
    await w.settled();
    expect(seen(w.openai).filter((l) => !l.startsWith('system:'))).toEqual(['user: what was the plan?']);
    expect((await slash('clear', bob, 'C0CHAN')).text).toContain('each thread is its own conversation');
  });

  it('character lists and switches; status shows it', async () => {
    const list = await slash('character', bob, 'D0BOB');
    expect(list.response_type).toBe('ephemeral');
    expect(list.text).toContain('Current character: Aria.');
    expect(list.text).toContain('Switch with /charbridge character &lt;name&gt;.');
    expect((await slash('character Nyx', bob, 'D0BOB')).text).toMatch(/^Switched to Nyx\./);
    const status = await slash('status', bob, 'D0BOB');
    expect(status.response_type).toBe('ephemeral');
    expect(status.text).toContain('Character: Nyx');
    expect(status.text).toContain('Conversation: ');
  });

  it('proactive on|off is the caller\'s own switch in a DM', async () => {
    expect((await slash('proactive on', bob, 'D0BOB')).text).toMatch(/^Nyx never starts conversations|^Proactive messages on/);
    await slash('character Aria', bob, 'D0BOB');
    expect(await slash('proactive on', bob, 'D0BOB')).toEqual({ response_type: 'ephemeral', text: 'Proactive messages on: I may message you first now and then.' });
    expect((await slash('proactive', bob, 'D0BOB')).text).toMatch(/^Proactive messages are on/);
    expect((await slash('proactive off', bob, 'D0BOB')).text).toBe('Proactive messages off: I will only answer.');
  });

  it('refuses admin subcommands to members (users.info is_admin false), privately', async () => {
    for (const text of ['scope per-user', 'engage always', 'limit 5', 'proactive test', 'admin scope shared', 'character Nyx', 'proactive on']) {
      const r = await slash(text, bob, 'C0ADMIN');
      expect(r.response_type, text).toBe('ephemeral');
      expect(r.text, text).toMatch(/^Only chat admins can do that\./);
    }
    expect((await slash('status', bob, 'C0ADMIN')).text).toContain('Scope: shared · Engage: mention');
  });

  it('lets workspace admins, owners and ADMIN_USER_IDS change the channel, shown to the channel', async () => {
    expect(await slash('scope per-user', admin, 'C0ADMIN')).toEqual({ response_type: 'in_channel', text: 'Scope set: each member has their own conversation.' });
    expect((await slash('engage mention', owner, 'C0ADMIN')).response_type).toBe('in_channel');
    expect((await slash('admin limit 5', listed, 'C0ADMIN')).text).toBe('Limit set: 5 messages per minute per member.');
    expect((await slash('limit lots', admin, 'C0ADMIN'))).toEqual({ response_type: 'ephemeral', text: 'Usage: /charbridge limit &lt;1-1000&gt;|off' });
    expect(await slash('character Nyx', admin, 'C0ADMIN')).toMatchObject({ response_type: 'in_channel', text: expect.stringMatching(/^Switched to Nyx\./) });
    const status = await slash('status', bob, 'C0ADMIN');
    expect(status.response_type).toBe('ephemeral');
    expect(status.text).toContain('Scope: per-user · Engage: mention · Limit: 5/min per user');

    // Threads inherit the channel's character binding.
    const mention = appMention({ channel: 'C0ADMIN', user: bob, text: `<@${w.fake.botUserId}> who are you?` });
    await w.fake.postEvent(w.eventsUrl, mention);
    await w.settled();
    expect(seen(w.openai)[0]).toContain('Nyx');
    expect(texts(w.fake, 'C0ADMIN', mention.ts as string)).toHaveLength(1);
  });

  it('proactive test (admin) sends a proactive message into the DM through the adapter', async () => {
    await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0ADMIN', user: admin, text: 'hello from ada' }));
    await w.settled();
    expect((await slash('proactive on', admin, 'D0ADMIN')).text).toMatch(/^Proactive messages on/);
    expect(await slash('proactive test', admin, 'D0ADMIN')).toEqual({ response_type: 'ephemeral', text: 'Proactive test sent.' });
    expect(texts(w.fake, 'D0ADMIN')).toHaveLength(2);
    expect(texts(w.fake, 'D0ADMIN')[1]).toMatch(/^Echo: /);
    expect((await slash('proactive test', bob, 'D0BOB')).text).toBe('Only chat admins can do that.');
  });

  it('answers an unknown subcommand with the usage', async () => {
    const r = await slash('dance', bob, 'D0BOB');
    expect(r.response_type).toBe('ephemeral');
    expect(r.text).toContain('Unknown subcommand "dance"');
    expect(r.text).toContain('/charbridge help');
    expect(w.fake.tooManyRequests).toBe(0);
  });
});
