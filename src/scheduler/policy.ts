import type { Character, Conversation } from '../core/types.js';
import { ADMIN_OWNER } from '../core/ids.js';
import type { ProactivePolicyOverrides, ProactiveRecord } from '../store/proactive.js';

/** The effective policy of one conversation, after overrides, character and config defaults. */
export interface ProactivePolicy {
  enabled: boolean;
  minIdleMinutes: number;
  minGapMinutes: number;
  dailyCap: number;
  maxUnanswered: number;
  quietHours: { start: string; end: string; timezone: string } | null;
}

export type ProactiveDefaults = Omit<ProactivePolicy, 'enabled' | 'quietHours'>;

const MIN = 60_000;

/**
 * On by default in DMs and API conversations of a character that may initiate; off in groups
 * until an admin turns it on. A character that may not initiate never does, whatever is set.
 */
export function effectivePolicy(conv: Conversation, character: Character, rec: ProactiveRecord, defaults: ProactiveDefaults): ProactivePolicy {
  const byDefault = conv.chatType === 'dm' || conv.platform === 'api';
  const p: Partial<ProactivePolicyOverrides> = rec.policy;
  const tenant = isTenantSession(conv);
  const gap = p.minGapMinutes ?? defaults.minGapMinutes;
  const cap = p.dailyCap ?? defaults.dailyCap;
  return {
    enabled: character.canInitiateConversation && (rec.enabled ?? byDefault),
    minIdleMinutes: p.minIdleMinutes ?? defaults.minIdleMinutes,
    minGapMinutes: tenant ? Math.max(gap, TENANT_FLOORS.minGapMinutes) : gap,
    dailyCap: tenant ? Math.min(cap, TENANT_FLOORS.maxDailyCap) : cap,
    maxUnanswered: p.maxUnanswered ?? defaults.maxUnanswered,
    quietHours: p.quietHours ?? null,
  };
}

/**
 * What a tenant's API session may ask of proactive messages (each costs the key a model call):
 * at most one an hour, 24 a day. The admin's sessions and platform chats are the operator's.
 */
export const TENANT_FLOORS = { minGapMinutes: 60, maxDailyCap: 24 } as const;

/** An API session owned by a tenant key (not the admin). */
export function isTenantSession(conv: Pick<Conversation, 'platform' | 'ownerId'>): boolean {
  return conv.platform === 'api' && conv.ownerId !== null && conv.ownerId !== ADMIN_OWNER;
}

/** Earliest time idle and gap both allow, given the last activity and the last proactive message. */
export function nextDueAt(policy: ProactivePolicy, lastActivityAt: number, lastProactiveAt: number | null): number | null {
  if (!policy.enabled) return null;
  return Math.max(lastActivityAt + policy.minIdleMinutes * MIN, lastProactiveAt === null ? 0 : lastProactiveAt + policy.minGapMinutes * MIN);
}

/** Local wall-clock minutes since midnight and the local date, in an IANA time zone. */
export function localTime(now: number, timeZone: string): { minutes: number; day: string } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return { minutes: Number(get('hour')) * 60 + Number(get('minute')), day: `${get('year')}-${get('month')}-${get('day')}` };
}

const toMinutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

/** True inside the quiet window; windows may cross midnight (23:00 → 08:00). */
export function inQuietHours(q: NonNullable<ProactivePolicy['quietHours']>, now: number): boolean {
  const { minutes } = localTime(now, q.timezone);
  const start = toMinutes(q.start);
  const end = toMinutes(q.end);
  if (start === end) return false;
  return start < end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
}

export type Verdict = { send: true; day: string } | { send: false; reason: string; retryAt: number | null };

/**
 * Whether to reach out now, and if not, when to look again (null: not until something changes,
 * e.g. the user answers or the policy is edited).
 */
export function decide(policy: ProactivePolicy, rec: ProactiveRecord, lastActivityAt: number, now: number): Verdict {
  const tz = policy.quietHours?.timezone ?? 'UTC';
  const { minutes, day } = localTime(now, tz);
  if (!policy.enabled) return { send: false, reason: 'disabled', retryAt: null };
  if (rec.unanswered >= policy.maxUnanswered) return { send: false, reason: 'unanswered', retryAt: null };
  const due = nextDueAt(policy, lastActivityAt, rec.lastAt);
  if (due !== null && due > now) return { send: false, reason: 'not-idle', retryAt: due };
  if (rec.day === day && rec.dayCount >= policy.dailyCap) {
    return { send: false, reason: 'daily-cap', retryAt: now + (1440 - minutes) * MIN };
  }
  if (policy.quietHours && inQuietHours(policy.quietHours, now)) {
    const end = toMinutes(policy.quietHours.end);
    return { send: false, reason: 'quiet-hours', retryAt: now + (((end - minutes + 1440) % 1440) || 1440) * MIN };
  }
  return { send: true, day };
}

/** Validate an IANA zone name (Intl throws RangeError on unknown zones). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
