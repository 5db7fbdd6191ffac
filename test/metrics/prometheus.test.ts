import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics/prometheus.js';

const idle = { adapters: () => [], inboxBacklog: async () => 0, engine: () => ({ inFlight: 0, modelActive: 0, modelQueued: 0 }) };

describe('metrics', () => {
  it('keeps the model label bounded however many models characters name', async () => {
    const metrics = new Metrics(idle, { processMetrics: false });
    for (let i = 0; i < 40; i++) metrics.modelCall({ model: `tenant-model-${i}`, durationMs: 100, firstTokenMs: null, error: null });
    const text = await metrics.render();
    const models = new Set([...text.matchAll(/^charbridge_model_duration_seconds_count\{model="([^"]+)"\}/gm)].map((m) => m[1]));
    expect(models.size).toBe(33);
    expect(models.has('other')).toBe(true);
    expect(text).toMatch(/^charbridge_model_duration_seconds_count\{model="other"\} 8$/m);
  });
});
