export * from './model.js';
export { importWorldInfo, exportWorldInfo } from './sillytavern.js';
export { importCharacterBook, exportCharacterBook } from './character-book.js';
export { importLorebook } from './import.js';
export {
  activate,
  DEFAULT_LORE_SETTINGS,
  type ActivateInput,
  type FiredEntry,
  type LoreActivation,
  type LoreDebugEntry,
  type LoreDebugStatus,
  type LoreMessage,
  type LoreSettings,
  type LoreTrigger,
} from './activate.js';
export { renderLore, describeLore, type DepthInsert, type RenderedLore } from './render.js';
export type { KeyOptions } from './keys.js';
export { ScanWatchdog, type RefusedPattern, type WatchedScan } from './watchdog.js';
