import type { ContentPart, JsonAnswer, ModelChunk, ModelClient, ModelMessage, ModelRequest } from './model.js';
import { countTokens } from './tokens.js';

export const OFFLINE_LABEL = '[offline model]';

/**
 * The built-in model used when no OPENAI_API_KEY / OPENAI_BASE_URL is set, so a fresh install
 * answers end to end. It is deterministic, never pretends to be an AI model, and says in every
 * reply that it is the offline model and how to connect a real one.
 */
export class OfflineModel implements ModelClient {
  readonly offline = true;
  readonly label = 'offline';
  readonly defaultModel = 'offline';

  async *stream(req: ModelRequest): AsyncIterable<ModelChunk> {
    const system = req.messages.find((m) => m.role === 'system');
    const name = /You are ([^.\n]+)[.\n]/.exec(text(system?.content))?.[1]?.trim() ?? 'Your character';
    const lastUser = [...req.messages].reverse().find((m) => m.role === 'user');
    const said = text(lastUser?.content).trim();
    const images = Array.isArray(lastUser?.content) ? lastUser.content.filter((p) => p.type === 'image_url').length : 0;
    const proactive = req.messages.some((m) => m.role === 'system' && text(m.content).includes('[proactive]'));
    const heard = said
      ? `You said: "${said.length > 200 ? `${said.slice(0, 200)}…` : said}"${images ? ` (and sent ${images} image${images > 1 ? 's' : ''})` : ''}.`
      : images
        ? `You sent ${images} image${images > 1 ? 's' : ''}.`
        : '';
    const reply = proactive
      ? `${OFFLINE_LABEL} ${name} here, just checking in. (Set OPENAI_API_KEY or OPENAI_BASE_URL for real replies.)`
      : `${OFFLINE_LABEL} ${name} here. ${heard} I am the built-in offline model, so I can only echo; set OPENAI_API_KEY or OPENAI_BASE_URL to talk to a real model.`;
    for (const word of reply.split(/(?<= )/)) {
      if (req.signal?.aborted) return;
      yield { type: 'delta', text: word };
    }
    const prompt = req.messages.reduce((n, m) => n + countTokens(text(m.content)), 0);
    yield { type: 'usage', promptTokens: prompt, completionTokens: countTokens(reply) };
  }

  /** The offline model knows nothing to extract: an empty object, costing nothing. */
  async completeJson(_req: ModelRequest): Promise<JsonAnswer> {
    return { text: '{}', promptTokens: 0, completionTokens: 0 };
  }
}

function text(content: ModelMessage['content'] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((p): p is Extract<ContentPart, { type: 'text' }> => p.type === 'text')
    .map((p) => p.text)
    .join(' ');
}
