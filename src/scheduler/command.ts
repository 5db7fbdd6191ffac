import type { Command } from '../engine/index.js';
import { REFUSAL_TEXT } from '../engine/index.js';
import type { ProactiveScheduler } from './proactive.js';

/**
 * `/proactive on|off` (the user's own opt-in/out in a DM; admins in groups, where it is off until
 * turned on), `/proactive` for the current state, and `/admin proactive test` to send one now.
 */
export function proactiveCommand(s: ProactiveScheduler | undefined): Command {
  return {
    name: 'proactive',
    args: 'on|off|test',
    description: 'let the character message you first (on/off)',
    options: [{ name: 'state', description: 'on or off (empty: show the current state)', choices: ['on', 'off'] }],
    admin: {
      description: 'proactive messages in this chat',
      options: [{ name: 'state', description: 'on, off, or test (send one now)', required: true, choices: ['on', 'off', 'test'] }],
      adminArgs: ['test'],
    },
    async run(ctx, [arg]) {
      const conv = ctx.conversation;
      if (!s || !conv) return 'Proactive messages are not running on this server.';
      const { store } = ctx.deps;
      const value = arg?.toLowerCase();
      if (value === 'test') {
        if (!ctx.isAdmin) return { text: REFUSAL_TEXT, reason: 'refused', ephemeral: true };
        const r = await s.sendNow(conv.id, { inLine: ctx.serialKey });
        return r.sent ? 'Proactive test sent.' : `Proactive test: nothing sent (${r.reason}).`;
      }
      if (value === 'on' || value === 'off') {
        if (ctx.msg.chatType !== 'dm' && !ctx.isAdmin) return { text: `${REFUSAL_TEXT} (proactive messages in a group)`, reason: 'refused', ephemeral: true };
        await store.proactive.setSettings(conv.id, { enabled: value === 'on' });
        const policy = await s.reschedule(conv.id);
        if (value === 'on' && policy && !policy.enabled) return `${ctx.character?.name ?? 'This character'} never starts conversations, so nothing will change.`;
        const text = value === 'on' ? 'Proactive messages on: I may message you first now and then.' : 'Proactive messages off: I will only answer.';
        return { text, reason: 'command', changesChat: ctx.msg.chatType !== 'dm' };
      }
      const loaded = await s.policyOf(conv.id);
      if (!loaded) return 'Usage: /proactive on|off';
      const p = loaded.policy;
      return p.enabled
        ? `Proactive messages are on (after ${p.minIdleMinutes} min of silence, at most ${p.dailyCap} a day). Turn off with /proactive off.`
        : 'Proactive messages are off. Turn on with /proactive on.';
    },
  };
}
