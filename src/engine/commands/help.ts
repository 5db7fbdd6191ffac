import type { Command } from './command.js';

/** Lists the commands this user may run here. Built from the registry so it never drifts. */
export function helpCommand(all: () => Command[]): Command {
  return {
    name: 'help',
    description: 'show the commands',
    async run(ctx) {
      const visible = all().filter((c) => !c.hidden && (ctx.msg.chatType !== 'dm' || !c.groupOnly));
      const lines = visible
        .filter((c) => !c.adminOnly)
        .map((c) => `/${c.name}${c.args ? ` ${c.args}` : ''} — ${c.description}`);
      const admin = visible.filter((c) => c.adminOnly).map((c) => `/admin ${c.name}${c.args ? ` ${c.args}` : ''} — ${c.description}`);
      const who = ctx.character ? `You're talking with ${ctx.character.name}.` : '';
      return [who, 'Commands:', ...lines, ...(admin.length && ctx.isAdmin ? ['Admin:', ...admin] : [])].filter(Boolean).join('\n');
    },
  };
}
