import { api } from '../api';
import type { CharacterSummary, Pagination } from '../types';
import { useApi } from './use-api';

/**
 * The first 100 characters the key can see (presets first), and a name for an id. A platform
 * conversation without a character of its own speaks as its chat's or the server's default.
 */
export function useCharacterNames() {
  const list = useApi(() => api<{ characters: CharacterSummary[]; pagination: Pagination }>('/characters', { query: { limit: 100 } }), []);
  const characters = list.data?.characters ?? [];
  const nameOf = (id: string | null) => (id ? (characters.find((c) => c.id === id)?.name ?? id) : 'Default character');
  return { characters, nameOf, error: list.error };
}
