import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { presetSchema } from './core/character-schema.js';
import type { Store } from './store/index.js';
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
    const p = parsed.data;
    await store.characters.upsertPreset({
      slug: p.slug,
      name: p.name,
      personality: p.personality,
      speakingStyle: p.speakingStyle,
      description: p.description ?? null,
      gender: p.gender ?? null,
      age: p.age ?? null,
      occupation: p.occupation ?? null,
      appearanceDescription: p.appearanceDescription ?? null,
      avatar: p.avatar ?? null,
      profilePhotoUrl: p.profilePhotoUrl ?? null,
      canInitiateConversation: p.canInitiateConversation ?? false,
      isPublic: true,
      scenario: p.scenario ?? null,
      greeting: p.greeting ?? null,
      exampleDialogue: p.exampleDialogue ?? null,
      systemPrompt: p.systemPrompt ?? null,
      postHistoryInstructions: p.postHistoryInstructions ?? null,
      tags: p.tags ?? [],
      model: p.model ?? null,
    });
  }
  log?.info({ count: files.length }, 'preset characters loaded');
  return files.length;
}
