/**
 * The one card shape the rest of charbridge works with: the `data` object of a Character Card V3
 * (`chara_card_v3`). V1 and V2 cards are lifted into it on import, so callers never branch on
 * the spec. Keys the parser does not know (from a later spec, or another app) ride along on the
 * object at run time and are written back on export, as the specs ask.
 */
export interface Card {
  name: string;
  description: string;
  personality: string;
  scenario: string;
  first_mes: string;
  mes_example: string;
  creator_notes: string;
  system_prompt: string;
  post_history_instructions: string;
  alternate_greetings: string[];
  group_only_greetings: string[];
  tags: string[];
  creator: string;
  character_version: string;
  /** Other apps' data, kept verbatim: the specs forbid destroying unknown keys. */
  extensions: Record<string, unknown>;
  /** Replaces the name in `{{char}}` when set (V3). */
  nickname?: string;
  character_book?: CharacterBook;
  /** Absent means "the default icon" (V3), which is not the same as an empty list. */
  assets?: CardAsset[];
  creator_notes_multilingual?: Record<string, string>;
  source?: string[];
  /** Unix seconds, UTC. */
  creation_date?: number;
  /** Unix seconds, UTC. */
  modification_date?: number;
}

/** A character's own lorebook (V2 `character_book`, V3 Lorebook); unknown keys ride along. */
export interface CharacterBook {
  name?: string;
  description?: string;
  scan_depth?: number;
  token_budget?: number;
  recursive_scanning?: boolean;
  extensions: Record<string, unknown>;
  entries: LorebookEntry[];
}

export interface LorebookEntry {
  keys: string[];
  content: string;
  extensions: Record<string, unknown>;
  enabled: boolean;
  insertion_order: number;
  /** Required by V3; V2 entries get `false`. */
  use_regex: boolean;
  case_sensitive?: boolean;
  constant?: boolean;
  name?: string;
  priority?: number;
  id?: number | string;
  comment?: string;
  selective?: boolean;
  secondary_keys?: string[];
  /** 'before_char' or 'after_char' in the specs; another app's value is kept as written. */
  position?: string;
}

/** A V3 asset: `uri` is `embeded://path` (inside a CHARX), `ccdefault:`, a data: URL or http(s). */
export interface CardAsset {
  type: string;
  uri: string;
  name: string;
  ext: string;
}

/** The JSON documents the card travels as. */
export interface CardV3Json {
  spec: 'chara_card_v3';
  spec_version: '3.0';
  data: Card;
}

export interface CardV2Json {
  spec: 'chara_card_v2';
  spec_version: '2.0';
  data: Card;
}

export type CardFormat = 'png' | 'json' | 'charx';

/** An image as bytes plus its sniffed MIME type. */
export interface CardImage {
  bytes: Buffer;
  mime: string;
}
