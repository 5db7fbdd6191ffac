/**
 * The shapes the console reads from the public HTTP API (/openapi.json has the full schemas).
 * The console is only a client of that API: nothing here is console-only data.
 */

export type Gender = 'male' | 'female' | 'non-binary' | 'other';
export type Ownership = 'preset' | 'mine' | 'public' | 'other';
export type Platform = 'api' | 'telegram' | 'discord' | 'slack';

export interface Pagination {
  page: number;
  limit: number;
  total: number;
  totalPages: number;
}

export interface CharacterSummary {
  id: string;
  slug: string;
  name: string;
  description: string | null;
  gender: Gender | null;
  age: number | null;
  occupation: string | null;
  avatar: string | null;
  profilePhotoUrl: string | null;
  canInitiateConversation: boolean;
  isPublic: boolean;
  isPreset: boolean;
  ownership: Ownership;
  tags: string[];
  createdAt: string;
  updatedAt: string;
}

export interface Character extends CharacterSummary {
  personality: string;
  speakingStyle: string;
  appearanceDescription: string | null;
  scenario: string | null;
  greeting: string | null;
  exampleDialogue: string | null;
  systemPrompt: string | null;
  postHistoryInstructions: string | null;
  /** What long-term memory should keep for this character. */
  memoryInstructions: string | null;
  model: string | null;
  /** Imported from a character card: exports give the card back whole. */
  fromCard: boolean;
}

export interface ConversationSummary {
  sessionId: string;
  characterId: string | null;
  platform: Platform;
  chatType: 'dm' | 'group' | 'thread';
  preview: string | null;
  messageCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface HistoryMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  timestamp: string;
  imageCount?: number;
}

export interface History {
  sessionId: string;
  characterId: string | null;
  messages: HistoryMessage[];
  hasMore: boolean;
}

export type UsageGroup = 'day' | 'character' | 'model' | 'platform' | 'key';

export interface UsageFigures {
  turns: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  credits: number;
  modelErrors: number;
}

export interface UsageReport {
  from: string;
  to: string;
  groupBy: UsageGroup;
  rows: Array<UsageFigures & { group: string | null; label: string }>;
  /** Groups past the limit asked for, counted in the totals but not listed. */
  groupsLeftOut: number;
  totals: UsageFigures;
}

export interface ApiKey {
  id: string;
  name: string;
  keyPrefix: string;
  credits: number | null;
  creditsUsed: number;
  remaining: number | null;
  webhookUrl: string | null;
  webhookDisabled: boolean;
  disabled: boolean;
  defaultCharacterId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CreatedApiKey extends ApiKey {
  key: string;
  webhookSecret?: string;
}

export interface PlatformStatus {
  platform: Exclude<Platform, 'api'>;
  mode: string;
  connected: boolean | null;
  lastEventAt: string | null;
  lastError: { message: string; at: string } | null;
  rateLimitWaits: number;
  sent: number | null;
  inFlight: number | null;
  outbound: { queued: number; waitedMs: number } | null;
}

export interface PlatformsReport {
  platforms: PlatformStatus[];
  proactive: {
    cron: string;
    defaults: { minIdleMinutes: number; minGapMinutes: number; dailyCap: number; maxUnanswered: number };
    scheduled: number;
    nextDueAt: string | null;
    recentSends: Array<{
      conversationId: string;
      platform: string | null;
      characterId: string | null;
      state: string;
      attempts: number;
      error: string | null;
      forced: boolean;
      at: string;
    }>;
  };
}

export interface SessionInfo {
  caller: { keyId: string; isAdmin: boolean; name: string };
  csrfToken: string;
  expiresAt: string;
}
