/**
 * Every platform renders the engine's one CommandMenu: Telegram's command list, Discord's slash
 * command bodies and their mapping back to engine text, Slack's subcommands. A command added to
 * the registry shows up everywhere without touching an adapter.
 */
import { describe, expect, it } from 'vitest';
import type { CommandMenu } from '../../src/core/command-menu.js';
import { commandMenu, createCommandRegistry, type Command } from '../../src/engine/commands/index.js';
import { proactiveCommand } from '../../src/scheduler/index.js';
import { telegramCommands } from '../../adapters/telegram/commands.js';
import { autocompletesCharacters, discordCommands, toEngineText } from '../../adapters/discord/commands.js';
import { isChannelWide, parseSubcommand, slashify } from '../../adapters/slack/commands.js';

const registry = (...extra: Command[]) => createCommandRegistry([proactiveCommand(undefined), ...extra]);
const menu = commandMenu(registry());

/** A command only this test registers: it must reach every platform from the registry alone. */
const roll: Command = {
  name: 'roll',
  args: '<sides>',
  description: 'roll a die',
  options: [{ name: 'sides', description: 'How many sides', required: true, maxLength: 3 }],
  async run() {
    return 'rolled';
  },
};

describe('Telegram command menu', () => {
  it('lists start and help first, the other user commands in the engine order, then admin with its subcommands', () => {
    const list = telegramCommands(menu);
    const names = menu.user.map((e) => e.name).filter((n) => n !== 'start' && n !== 'help');
    expect(list.map((c) => c.command)).toEqual(['start', 'help', ...names, 'admin']);
    expect(list.find((c) => c.command === 'admin')?.description).toContain(menu.admin.map((e) => e.name).join('|'));
    // Arguments only admins may give are not advertised to everyone.
    expect(list.find((c) => c.command === 'proactive')?.description).toMatch(/\/proactive on\|off$/);
    for (const c of list) expect(c.description.length).toBeLessThanOrEqual(256);
  });

  it('shows a newly registered command, and leaves out names Telegram would refuse', () => {
    const odd: Command = { ...roll, name: 'roll-dice' };
    const list = telegramCommands(commandMenu(registry(roll, odd)));
    expect(list.map((c) => c.command)).toContain('roll');
    expect(list.map((c) => c.command)).not.toContain('roll-dice');
    expect(list.find((c) => c.command === 'roll')?.description).toBe('Roll a die: /roll <sides>');
  });
});

describe('Discord slash commands', () => {
  it('builds chat first, the user commands but start, then admin with the admin entries as subcommands', () => {
    const bodies = discordCommands(menu) as Array<{ name: string; options?: any[]; default_member_permissions?: string; contexts: number[] }>;
    expect(bodies.map((b) => b.name)).toEqual(['chat', ...menu.user.filter((e) => e.name !== 'start').map((e) => e.name), 'admin']);
    const admin = bodies.at(-1)!;
    expect(admin.contexts).toEqual([0]);
    expect(admin.options?.map((o) => o.name)).toEqual(menu.admin.map((e) => e.name));
    const limit = admin.options?.find((o) => o.name === 'limit').options[0];
    expect(limit).toMatchObject({ type: 3, name: 'value', required: true, max_length: 4 });
    const scope = admin.options?.find((o) => o.name === 'scope').options[0];
    expect(scope.choices).toEqual([{ name: 'shared', value: 'shared' }, { name: 'per-user', value: 'per-user' }]);
    expect(bodies.find((b) => b.name === 'character')?.options?.[0]).toMatchObject({ name: 'name', autocomplete: true });
  });

  it('maps a newly registered command to its engine text, options in the menu order', () => {
    const m = commandMenu(registry(roll));
    expect((discordCommands(m) as Array<{ name: string }>).map((b) => b.name)).toContain('roll');
    expect(toEngineText(m, { name: 'roll', subcommand: null, options: { sides: 20 } })).toEqual({ text: '/roll 20', callsModel: false });
  });

  it('offers character names exactly where the menu asks for them', () => {
    expect(autocompletesCharacters(menu, { name: 'character', subcommand: null, focused: 'name' })).toBe(true);
    expect(autocompletesCharacters(menu, { name: 'admin', subcommand: 'character-default', focused: 'name' })).toBe(true);
    expect(autocompletesCharacters(menu, { name: 'admin', subcommand: 'limit', focused: 'value' })).toBe(false);
  });
});

describe('Slack subcommands', () => {
  it('reaches every admin command of the menu under /admin, and a new user command as itself', () => {
    for (const e of menu.admin) {
      const r = parseSubcommand(menu, `${e.name} x`, '/cb');
      expect(r.ok && r.engineText, e.name).toBe(e.name === 'proactive' ? '/proactive x' : `/admin ${e.name} x`);
    }
    const m: CommandMenu = commandMenu(registry(roll));
    expect(parseSubcommand(m, 'roll 6', '/cb')).toMatchObject({ ok: true, engineText: '/roll 6' });
    expect(slashify(m, 'Try /roll 6', '/cb')).toBe('Try /cb roll 6');
  });

  it('names the subcommands in its usage line, admin forms included', () => {
    const r = parseSubcommand(menu, 'dance', '/cb');
    expect(r.ok).toBe(false);
    const text = r.ok ? '' : r.text;
    for (const e of menu.user.filter((u) => u.name !== 'start')) expect(text).toContain(e.name);
    expect(text).toContain('proactive test');
    for (const e of menu.admin) expect(text).toContain(e.name);
  });

  it('shows an answer to the channel only when the engine says it changed the chat for everyone', () => {
    expect(isChannelWide('C1', { changesChat: true })).toBe(true);
    expect(isChannelWide('C1', {})).toBe(false);
    expect(isChannelWide('C1', { changesChat: true, ephemeral: true })).toBe(false);
    expect(isChannelWide('D1', { changesChat: true })).toBe(false);
  });
});
