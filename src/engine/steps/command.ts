import type { MessageContext, Step } from '../pipeline.js';
import type { Command } from '../commands/index.js';
import { REFUSAL_TEXT } from '../commands/index.js';

/** `/name@bot a b` → { name, args }; null when the text is not a command. */
export function parseCommand(text: string): { name: string; args: string[] } | null {
  const m = /^\/([A-Za-z0-9_-]+)(?:@\S+)?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m?.[1]) return null;
  return { name: m[1].toLowerCase(), args: (m[2] ?? '').trim().split(/\s+/).filter(Boolean) };
}

/**
 * Commands are answered after the rate limit (an explicit /command is always addressed to us,
 * and its answer is a message too) and never reach the model. `/admin <name> …` runs an admin command; admin-only commands refuse
 * non-admins clearly. Unknown commands get a hint in DMs and are ignored in groups, where they
 * are likely meant for another bot.
 */
export function commandStep(registry: Map<string, Command>): Step<MessageContext> {
  return async (ctx, next) => {
    const parsed = parseCommand(ctx.msg.text);
    if (!parsed) return next();
    let { name, args } = parsed;
    let viaAdmin = false;
    if (name === 'admin') {
      viaAdmin = true;
      name = (args[0] ?? '').toLowerCase();
      args = args.slice(1);
    }
    const cmd = registry.get(name);
    const say = (text: string, reason: 'command' | 'refused' = 'command', ephemeral = false) =>
      ctx.out.push({ type: 'notice', text, reason, ...(ephemeral ? { ephemeral } : {}) });
    if (!cmd || (viaAdmin && !cmd.adminOnly && !cmd.admin && !cmd.alsoUnderAdmin)) {
      if (ctx.msg.chatType === 'dm' || viaAdmin) {
        const admins = [...registry.values()].filter((c) => c.adminOnly).map((c) => c.name).join('|');
        say(viaAdmin ? `Usage: /admin ${admins} …` : `Unknown command /${name}. Send /help for the list.`);
      }
      return;
    }
    if (cmd.adminOnly && !ctx.isAdmin) return say(REFUSAL_TEXT, 'refused', true);
    if (cmd.groupOnly && ctx.msg.chatType === 'dm') return say(`/${cmd.name} only applies in groups.`);
    const result = await cmd.run(ctx, args);
    if (typeof result === 'string') say(result);
    else {
      const { text, reason, ephemeral, changesChat } = result;
      ctx.out.push({ type: 'notice', text, reason, ...(ephemeral ? { ephemeral } : {}), ...(changesChat ? { changesChat } : {}) });
    }
  };
}
