import { describe, expect, it } from 'vitest';
import { decide, inQuietHours, localTime, type ProactivePolicy } from '../../src/scheduler/index.js';
import type { ProactiveRecord } from '../../src/store/index.js';

const MIN = 60_000;
const policy = (over: Partial<ProactivePolicy> = {}): ProactivePolicy => ({ enabled: true, minIdleMinutes: 60, minGapMinutes: 120, dailyCap: 2, maxUnanswered: 2, quietHours: null, ...over });
const rec = (over: Partial<ProactiveRecord> = {}): ProactiveRecord => ({ conversationId: 'c', enabled: null, policy: {}, policyText: null, nextAt: null, unanswered: 0, lastAt: null, day: null, dayCount: 0, leaseUntil: null, ...over });

describe('proactive policy', () => {
  const t0 = Date.UTC(2026, 0, 10, 12, 0);
  it('waits for the idle time, then the gap since the last proactive message', () => {
    expect(decide(policy(), rec(), t0, t0 + 59 * MIN)).toEqual({ send: false, reason: 'not-idle', retryAt: t0 + 60 * MIN });
    expect(decide(policy(), rec(), t0, t0 + 60 * MIN).send).toBe(true);
    expect(decide(policy(), rec({ lastAt: t0 }), t0, t0 + 90 * MIN)).toMatchObject({ send: false, reason: 'not-idle', retryAt: t0 + 120 * MIN });
  });
  it('stops after maxUnanswered and at the daily cap until the next local day', () => {
    expect(decide(policy(), rec({ unanswered: 2 }), t0, t0 + 600 * MIN)).toEqual({ send: false, reason: 'unanswered', retryAt: null });
    const v = decide(policy(), rec({ day: '2026-01-10', dayCount: 2 }), t0 - 600 * MIN, t0);
    expect(v).toEqual({ send: false, reason: 'daily-cap', retryAt: Date.UTC(2026, 0, 11, 0, 0) });
  });
  it('honours quiet hours that cross midnight, in the given time zone', () => {
    const q = { start: '23:00', end: '08:00', timezone: 'Europe/Berlin' };
    // 22:30 UTC in January is 23:30 in Berlin: quiet. 06:59 UTC is 07:59 Berlin: quiet. 07:00 UTC is 08:00: not.
    expect(inQuietHours(q, Date.UTC(2026, 0, 10, 22, 30))).toBe(true);
    expect(inQuietHours(q, Date.UTC(2026, 0, 11, 6, 59))).toBe(true);
    expect(inQuietHours(q, Date.UTC(2026, 0, 11, 7, 0))).toBe(false);
    expect(inQuietHours(q, Date.UTC(2026, 0, 10, 21, 59))).toBe(false);
    const v = decide(policy({ quietHours: q }), rec(), Date.UTC(2026, 0, 10, 10), Date.UTC(2026, 0, 10, 22, 30));
    expect(v).toEqual({ send: false, reason: 'quiet-hours', retryAt: Date.UTC(2026, 0, 11, 7, 0) });
  });
  it('uses the local day of the time zone for the cap', () => {
    expect(localTime(Date.UTC(2026, 0, 10, 23, 30), 'Asia/Tokyo').day).toBe('2026-01-11');
    expect(localTime(Date.UTC(2026, 0, 10, 23, 30), 'America/New_York').day).toBe('2026-01-10');
  });
  it('is off when disabled', () => {
    expect(decide(policy({ enabled: false }), rec(), 0, t0)).toMatchObject({ send: false, reason: 'disabled' });
  });
});
