import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isCardError, type CardFormat } from './cards/index.js';
import { exportCard, importCard } from './characters/cards.js';
import type { Config } from './config.js';
import { ADMIN_OWNER } from './core/ids.js';
import { openStore } from './store/index.js';

export const CHARACTERS_USAGE = `  npm run cli -- characters import <file>             add a character from a card (PNG, JSON or CHARX), owned by the admin key
  npm run cli -- characters export <id|slug> <file>   write a character as a card (format from the extension: .png, .json, .charx)`;

const FORMATS: Record<string, CardFormat> = { '.png': 'png', '.json': 'json', '.charx': 'charx' };

/**
 * `characters import|export`: cards in and out from the operator's terminal. An import belongs
 * to the admin key, as one the admin sends in a platform DM would, so platform users see it.
 */
export async function runCharacters(config: Config, args: string[], out: (line: string) => void): Promise<number> {
  const [command, first, second] = args;
  if (command === 'import' && first && !second) return withStore(config, async (store) => {
    const bytes = await readFile(first);
    const c = await importCard(store, bytes, undefined, { ownerId: ADMIN_OWNER, checkName: true }).catch(cardProblem(first));
    out(`Imported ${c.name} as ${c.slug} (${c.id})`);
    return 0;
  });
  if (command === 'export' && first && second) return withStore(config, async (store) => {
    const format = FORMATS[extname(second).toLowerCase()];
    if (!format) throw new Error(`Cannot tell the card format from "${second}": name the file .png, .json or .charx`);
    const c = (await store.characters.get(first)) ?? (await store.characters.findVisible(first, ADMIN_OWNER));
    if (!c) throw new Error(`No character ${first}`);
    const file = await exportCard(store, c, format);
    await writeFile(second, file.bytes);
    out(`Wrote ${c.name} to ${second} (${format}, ${file.bytes.length} bytes)`);
    return 0;
  });
  out(`Usage:\n${CHARACTERS_USAGE}`);
  return 64;
}

async function withStore<T>(config: Config, run: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const store = await openStore(config.store.url);
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/** A broken card names the file and what is wrong with it, like the API's 400. */
function cardProblem(path: string) {
  return (err: unknown): never => {
    if (isCardError(err)) throw new Error(`${path}: ${err.message} (${err.code})`);
    throw err;
  };
}
