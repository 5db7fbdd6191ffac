import { expect, it } from 'vitest';
import { DEFAULT_CHAT_SETTINGS, WEBHOOK_DISABLE_AFTER, hashApiKey } from '../../src/store/index.js';
import { describeStores } from './backends.js';

describeStores('ApiKeyRepo', (ctx) => {
  it('creates a key stored only as its hash, finds it by the secret, lists and deletes', async () => {
    const { apiKey, key } = await ctx.store.apiKeys.create({ name: 'one', credits: 10, webhookUrl: 'https://hook', webhookSecret: 's' });
    ctx.clock.advance(1);
    const two = await ctx.store.apiKeys.create({ name: 'two' });
    expect(apiKey).toMatchObject({ name: 'one', credits: 10, creditsUsed: 0, keyPrefix: key.slice(0, 10), webhookUrl: 'https://hook', disabled: false });
    const row = await ctx.store.db.selectFrom('api_keys').select('key_hash').where('id', '=', apiKey.id).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(hashApiKey(key));
    expect(await ctx.store.apiKeys.findByKey(key)).toEqual(apiKey);
    expect(await ctx.store.apiKeys.findByKey(`${key}x`)).toBeUndefined();
    expect((await ctx.store.apiKeys.list()).map((k) => k.name)).toEqual(['one', 'two']);
    expect(await ctx.store.apiKeys.delete(two.apiKey.id)).toBe(true);
    expect(await ctx.store.apiKeys.get(two.apiKey.id)).toBeUndefined();
  });

  it('patches fields; re-enabling a webhook resets its failure count', async () => {
    const { apiKey } = await ctx.store.apiKeys.create({ name: 'k' });
    await ctx.store.db.updateTable('api_keys').set({ webhook_disabled: 1, webhook_failures: 5 }).where('id', '=', apiKey.id).execute();
    const patched = await ctx.store.apiKeys.update(apiKey.id, { name: 'renamed', credits: null, disabled: true, defaultCharacterId: 'char_x', webhookDisabled: false });
    expect(patched).toMatchObject({ name: 'renamed', credits: null, disabled: true, defaultCharacterId: 'char_x', webhookDisabled: false, webhookFailures: 0 });
  });

  it('reserves credits only while the allowance has room, and releases never below zero', async () => {
    const { apiKey } = await ctx.store.apiKeys.create({ name: 'k', credits: 5 });
    expect(await ctx.store.apiKeys.reserve(apiKey.id, 3)).toBe(true);
    expect(await ctx.store.apiKeys.reserve(apiKey.id, 3)).toBe(false);
    expect(await ctx.store.apiKeys.reserve(apiKey.id, 2)).toBe(true);
    await ctx.store.apiKeys.release(apiKey.id, 4);
    expect((await ctx.store.apiKeys.get(apiKey.id))?.creditsUsed).toBe(1);
    await ctx.store.apiKeys.release(apiKey.id, 10);
    expect((await ctx.store.apiKeys.get(apiKey.id))?.creditsUsed).toBe(0);
    const unlimited = await ctx.store.apiKeys.create({ name: 'u' });
    expect(await ctx.store.apiKeys.reserve(unlimited.apiKey.id, 1_000_000)).toBe(true);
  });

  it('counts credits past 32 bits exactly', async () => {
    const { apiKey } = await ctx.store.apiKeys.create({ name: 'big', credits: 2 ** 40 });
    expect(await ctx.store.apiKeys.reserve(apiKey.id, 2 ** 33)).toBe(true);
    expect((await ctx.store.apiKeys.get(apiKey.id))?.creditsUsed).toBe(2 ** 33);
  });
});

describeStores('UsageRepo and SettingsRepo', (ctx) => {
  it('sums usage per conversation, zero for none', async () => {
    await ctx.store.usage.record({ conversationId: 'c1', characterId: 'x', promptTokens: 10, completionTokens: 5, credits: 2 });
    await ctx.store.usage.record({ conversationId: 'c1', characterId: 'x', apiKeyId: 'k', promptTokens: 1, completionTokens: 1 });
    expect(await ctx.store.usage.forConversation('c1')).toEqual({ turns: 2, promptTokens: 11, completionTokens: 6, credits: 2 });
    expect(await ctx.store.usage.forConversation('c2')).toEqual({ turns: 0, promptTokens: 0, completionTokens: 0, credits: 0 });
  });

  it('stores chat settings as patches over the defaults, and bindings as upserts', async () => {
    expect(await ctx.store.settings.getChat('telegram:1')).toEqual(DEFAULT_CHAT_SETTINGS);
    await ctx.store.settings.setChat('telegram:1', { engage: 'always' });
    expect(await ctx.store.settings.setChat('telegram:1', { userLimitPerMin: 3 })).toEqual({ scope: 'shared', engage: 'always', userLimitPerMin: 3 });
    expect(await ctx.store.settings.getChat('telegram:1')).toEqual({ scope: 'shared', engage: 'always', userLimitPerMin: 3 });
    expect(await ctx.store.settings.getBinding('telegram:*')).toBeUndefined();
    await ctx.store.settings.setBinding('telegram:*', 'char_a');
    await ctx.store.settings.setBinding('telegram:*', 'char_b');
    expect(await ctx.store.settings.getBinding('telegram:*')).toBe('char_b');
  });
});

describeStores('WebhookRepo failure counter', (ctx) => {
  it('disables a webhook on the threshold failure exactly once; a success resets the run', async () => {
    const { apiKey } = await ctx.store.apiKeys.create({ name: 'k' });
    const results: boolean[] = [];
    for (let i = 0; i < WEBHOOK_DISABLE_AFTER + 1; i++) results.push(await ctx.store.webhooks.countFailure(apiKey.id));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results[WEBHOOK_DISABLE_AFTER - 1]).toBe(true);
    await ctx.store.webhooks.resetFailures(apiKey.id);
    expect(await ctx.store.apiKeys.get(apiKey.id)).toMatchObject({ webhookFailures: 0, webhookDisabled: true });
    expect(await ctx.store.webhooks.countFailure('key_missing')).toBe(false);
  });
});
