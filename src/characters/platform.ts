import type { Store } from '../store/index.js';

/** What the platform adapters show of the characters: names for menus, avatar URLs for Discord's webhooks. */
export interface PlatformDirectory {
  names(): Promise<string[]>;
  /** The URL of a character's picture, when it has one a platform can fetch. */
  avatarUrl(name: string): Promise<string | undefined>;
}

/**
 * The characters platform users see. A character's own http(s) picture URL wins; a picture that
 * came with its card is served by us at `/api/v1/characters/:id/avatar`, so it needs PUBLIC_URL
 * (the address platforms reach this server at) to be shown.
 */
export function platformDirectory(store: Store, publicUrl: string | undefined): PlatformDirectory {
  const base = publicUrl?.replace(/\/+$/, '');
  return {
    names: async () => (await store.characters.listShared()).map((c) => c.name),
    avatarUrl: async (name) => {
      const c = await store.characters.findByName(name);
      if (!c) return undefined;
      const url = c.profilePhotoUrl ?? c.avatar;
      if (url && /^https?:\/\//.test(url)) return url;
      if (!base || !c.fromCard) return undefined;
      return `${base}/api/v1/characters/${encodeURIComponent(c.id)}/avatar?v=${encodeURIComponent(c.updatedAt)}`;
    },
  };
}
