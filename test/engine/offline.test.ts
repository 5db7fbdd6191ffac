import { describe, expect, it } from 'vitest';
import { OfflineModel, OFFLINE_LABEL } from '../../src/llm/index.js';
import { createEngine } from '../../src/engine/index.js';
import { openStore } from '../../src/store/index.js';
import { loadPresets } from '../../src/presets.js';
import { defaultPresetDir } from '../../src/runtime.js';
import { ManualClock } from '../../src/core/clock.js';
import { inbound, say, testEngineConfig, testLogger } from '../helpers/harness.js';

describe('offline model', () => {
  it('answers deterministically, labelled, in the character’s name', async () => {
    const clock = new ManualClock();
    const store = await openStore(':memory:', clock);
    expect(await loadPresets(store, defaultPresetDir())).toBeGreaterThanOrEqual(5);
    expect(await loadPresets(store, defaultPresetDir())).toBeGreaterThanOrEqual(5); // idempotent
    const engine = createEngine({ store, model: new OfflineModel(), clock, log: testLogger(), config: testEngineConfig() });
    const a = await say(engine, inbound({ text: 'hello offline' }));
    const b = await say(engine, inbound({ chatId: '2', userId: '2', text: 'hello offline' }));
    expect(a.reply).toContain(OFFLINE_LABEL);
    expect(a.reply).toContain('Aria here');
    expect(a.reply).toContain('You said: "hello offline"');
    expect(a.reply).toBe(b.reply);
    const presets = await store.characters.listShared(50);
    expect(presets.filter((c) => c.canInitiateConversation).length).toBeGreaterThanOrEqual(2);
    await store.close();
  });
});
