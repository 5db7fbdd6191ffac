import type { ContextBlock, ContextProvider } from './context-blocks.js';

/**
 * The user's persona description, after the character definition (SillyTavern's default
 * "persona description" position), so the character knows who it talks with.
 */
export function personaContextProvider(): ContextProvider {
  return {
    name: 'persona',
    async blocks(input): Promise<ContextBlock[]> {
      const description = input.turn.persona?.description?.trim();
      if (!description) return [];
      return [{ position: 'after-character', text: `About ${input.userName}, who you are talking with: ${description}`, order: 10 }];
    },
  };
}
