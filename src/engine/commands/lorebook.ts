import { ConflictError } from '../../core/errors.js';
import { ADMIN_OWNER } from '../../core/ids.js';
import type { Command } from './command.js';
import { resolvedChat } from '../pipeline.js';

const USAGE = 'Usage: /admin lorebook attach|detach <name>, or /admin lorebook list';

/**
 * `/admin lorebook attach|detach <name>`: a lorebook of the platform (owned by the admin key, as
 * platform characters are) for this chat's conversation; `list` shows what applies here.
 */
export const lorebookCommand: Command = {
  name: 'lorebook',
  args: 'attach|detach|list [name]',
  description: "attach a lorebook to this chat, or detach it",
  adminOnly: true,
  options: [
    { name: 'action', description: 'attach, detach or list', required: true, choices: ['attach', 'detach', 'list'] },
    { name: 'name', description: 'The lorebook’s name' },
  ],
  async run(ctx, [action, ...rest]) {
    const { conversation, character } = resolvedChat(ctx);
    const books = ctx.deps.store.lorebooks;
    if (action === 'list') {
      const attached = await books.attachedTo([
        { kind: 'conversation', id: conversation.id },
        { kind: 'character', id: character.id },
      ]);
      return attached.length ? `Lorebooks here: ${attached.map((b) => b.name).join(', ')}` : 'No lorebook is attached here.';
    }
    const name = rest.join(' ').trim();
    if ((action !== 'attach' && action !== 'detach') || !name) return USAGE;
    const book = await books.findByName(ADMIN_OWNER, name);
    if (!book) return `No lorebook named "${name}". The admin key creates them (POST /api/v1/lorebooks).`;
    const target = { kind: 'conversation' as const, id: conversation.id };
    if (action === 'attach') {
      try {
        await books.attach(book.id, target);
      } catch (err) {
        if (err instanceof ConflictError) return err.message;
        throw err;
      }
      return { text: `Lorebook "${book.name}" attached to this chat.`, reason: 'command', changesChat: true };
    }
    const removed = await books.detach(book.id, target);
    return removed ? { text: `Lorebook "${book.name}" detached from this chat.`, reason: 'command', changesChat: true } : `Lorebook "${book.name}" was not attached here.`;
  },
};
