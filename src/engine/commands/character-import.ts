import { importCard } from '../../characters/cards.js';
import { isCardError } from '../../cards/index.js';
import { ADMIN_OWNER } from '../../core/ids.js';
import { isCharbridgeError } from '../../core/errors.js';
import type { MessageContext } from '../pipeline.js';
import type { CommandResult } from './command.js';

const HOW = 'Send a character card (PNG, JSON or CHARX) as a file in this DM, with /character import as its caption.';

/**
 * `/character import` with a card file, from an operator (ADMIN_USER_IDS) in a DM: the card
 * becomes a character of the admin key, so every platform user can pick it. Group chats and
 * other users are refused: a card is a server-wide addition.
 */
export async function importFromChat(ctx: MessageContext): Promise<CommandResult> {
  const { msg } = ctx;
  const operator = ctx.deps.config.adminUserIds.includes(`${msg.platform}:${msg.userId}`);
  if (!operator) return { text: 'Only the operators of this bot (ADMIN_USER_IDS) can import characters.', reason: 'refused', ephemeral: true };
  if (msg.chatType !== 'dm') return { text: 'Import characters in a DM with the bot.', reason: 'refused', ephemeral: true };
  const file = msg.files?.[0];
  if (!file) return HOW;
  if (!file.bytes) {
    return file.skipped === 'too-large'
      ? `${file.name} is too large to import (${Math.ceil(file.size / 1024)} KB).`
      : `${file.name} could not be downloaded; please send it again.`;
  }
  try {
    const c = await importCard(ctx.deps.store, file.bytes, file.mime, { ownerId: ADMIN_OWNER, checkName: true });
    return { text: `Imported ${c.name}. Platform users can switch to it with /character ${c.name}.`, reason: 'command' };
  } catch (err) {
    if (isCardError(err) || (isCharbridgeError(err) && err.status === 400)) return `${file.name} was not imported: ${(err as Error).message}`;
    throw err;
  }
}
