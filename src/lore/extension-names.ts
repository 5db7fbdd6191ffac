/**
 * SillyTavern's entry fields that we keep but do not interpret, with the names SillyTavern uses
 * for them inside a card entry's `extensions` (src/endpoints/characters.js,
 * convertWorldInfoToCharacterBook). Mapping both ways lets a world-info file become a card book
 * and back without losing inclusion groups, timed effects and the like.
 */
export const ST_EXTRA_TO_CARD_EXTENSION: Readonly<Record<string, string>> = {
  displayIndex: 'display_index',
  group: 'group',
  groupOverride: 'group_override',
  groupWeight: 'group_weight',
  useGroupScoring: 'use_group_scoring',
  automationId: 'automation_id',
  vectorized: 'vectorized',
  sticky: 'sticky',
  cooldown: 'cooldown',
  delay: 'delay',
  matchPersonaDescription: 'match_persona_description',
  matchCharacterDescription: 'match_character_description',
  matchCharacterPersonality: 'match_character_personality',
  matchCharacterDepthPrompt: 'match_character_depth_prompt',
  matchScenario: 'match_scenario',
  matchCreatorNotes: 'match_creator_notes',
  triggers: 'triggers',
  ignoreBudget: 'ignore_budget',
};

export const CARD_EXTENSION_TO_ST_EXTRA: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(ST_EXTRA_TO_CARD_EXTENSION).map(([st, card]) => [card, st]),
);

/** Card-entry `extensions` keys SillyTavern writes for fields this library interprets. */
export const INTERPRETED_CARD_EXTENSIONS: ReadonlySet<string> = new Set([
  'position',
  'depth',
  'role',
  'selectiveLogic',
  'probability',
  'useProbability',
  'exclude_recursion',
  'prevent_recursion',
  'delay_until_recursion',
  'scan_depth',
  'case_sensitive',
  'match_whole_words',
  'outlet_name',
]);

/** Book-level fields SillyTavern only uses as a cache inside its own files. */
export const ST_FILE_ONLY_BOOK_FIELDS: ReadonlySet<string> = new Set(['originalData']);

export function pickRest(obj: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!known.has(k) && v !== undefined) out[k] = v;
  return out;
}
