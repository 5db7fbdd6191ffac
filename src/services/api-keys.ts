import { randomBytes } from 'node:crypto';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { checkUrlLiteral } from '../core/ssrf.js';
import type { ApiKey, ApiKeyPatch, Store } from '../store/index.js';
import { keyCaller, visibleCharacter } from './access.js';

export interface NewApiKey {
  name: string;
  credits?: number | null | undefined;
  webhookUrl?: string | null | undefined;
  webhookSecret?: string | null | undefined;
}

/**
 * Tenants' API keys, for the admin. A key is shown once and stored as a hash; a webhook URL gets
 * the literal SSRF check now (the sender resolves and checks it again at delivery), and a
 * webhook without a secret gets a generated one, also shown once.
 */
export class ApiKeyService {
  constructor(private readonly store: Store, private readonly ssrfAllowHosts: readonly string[]) {}

  async create(input: NewApiKey): Promise<{ apiKey: ApiKey; key: string; generatedSecret?: string }> {
    const url = this.checkWebhookUrl(input.webhookUrl);
    const generated = url && !input.webhookSecret ? randomBytes(32).toString('base64url') : undefined;
    const { apiKey, key } = await this.store.apiKeys.create({
      name: input.name,
      credits: input.credits ?? null,
      webhookUrl: url ?? null,
      webhookSecret: input.webhookSecret ?? generated ?? null,
    });
    return { apiKey, key, ...(generated ? { generatedSecret: generated } : {}) };
  }

  /**
   * A page of keys in creation order and the cursor of the next (null after the last). The
   * cursor is opaque to callers: the last key's creation time and id.
   */
  async page(limit: number, cursor: string | undefined): Promise<{ keys: ApiKey[]; nextCursor: string | null }> {
    const { keys, more } = await this.store.apiKeys.page({ limit, after: cursor === undefined ? undefined : readKeyCursor(cursor) });
    const last = keys.at(-1);
    return { keys, nextCursor: more && last ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url') : null };
  }

  /** Change a key; `defaultCharacterId` may be an id or slug the key itself can see. */
  async update(id: string, patch: Omit<ApiKeyPatch, 'defaultCharacterId'> & { defaultCharacterRef?: string | null | undefined }): Promise<ApiKey> {
    const current = await this.store.apiKeys.get(id);
    if (!current) throw new NotFoundError('API key', 'API_KEY_NOT_FOUND');
    const { webhookUrl: rawUrl, defaultCharacterRef: ref, ...rest } = patch;
    const url = this.checkWebhookUrl(rawUrl);
    const defaultCharacterId = ref ? (await this.defaultFor(current, ref)).id : ref;
    const updated = await this.store.apiKeys.update(id, {
      ...rest,
      ...(url !== undefined ? { webhookUrl: url } : {}),
      ...(defaultCharacterId !== undefined ? { defaultCharacterId } : {}),
    });
    if (!updated) throw new NotFoundError('API key', 'API_KEY_NOT_FOUND');
    return updated;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.apiKeys.delete(id))) throw new NotFoundError('API key', 'API_KEY_NOT_FOUND');
  }

  /** A key's default character must be one that key can see (a preset, public, or its own). */
  private async defaultFor(key: ApiKey, ref: string) {
    try {
      return await visibleCharacter(this.store, keyCaller(key), ref);
    } catch {
      throw new ValidationError('defaultCharacterId must name a character this key can see', { field: 'defaultCharacterId' });
    }
  }

  private checkWebhookUrl(url: string | null | undefined): string | null | undefined {
    if (url === undefined || url === null) return url;
    const r = checkUrlLiteral(url.trim(), { allowHosts: this.ssrfAllowHosts });
    if (!r.ok) throw new ValidationError(`webhookUrl ${r.reason}`, { field: 'webhookUrl' });
    return r.url.href;
  }
}

function readKeyCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return { createdAt: v[0], id: v[1] };
  } catch {
    // falls through to the error below
  }
  throw new ValidationError('cursor is not one this list gave: pass nextCursor from the previous page as it is', { field: 'cursor' });
}
