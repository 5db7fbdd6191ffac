import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { presetSchema } from './core/character-schema.js';
import { characterInputFrom, type Store } from './store/index.js';
import type { Logger } from './log.js';

/**
 * Load the shipped characters from `data/presets/*.json` into the store. Idempotent: ids derive
 * from slugs, so every start refreshes the same rows, and conversations bound to a preset keep it.
 */
export async function loadPresets(store: Store, dir: string, log?: Logger): Promise<number> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  for (const file of files) {
    const parsed = presetSchema.safeParse(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    if (!parsed.success) {
      throw new Error(`Preset ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const { slug, ...card } = parsed.data;
    await store.characters.upsertPreset({ ...characterInputFrom(card, { isPublic: true }), slug });
  }
  log?.info({ count: files.length }, 'preset characters loaded');
  return files.length;
}
