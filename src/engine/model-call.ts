import type { TokenUsage } from '../core/types.js';
import { CharbridgeError, EmptyReplyError, ModelError } from '../core/errors.js';
import type { ModelClient, ModelMessage } from '../llm/index.js';

export interface ModelCall {
  messages: ModelMessage[];
  /** The models to try, in order: the character's (or the configured one), then the fallbacks. */
  models: readonly string[];
  maxTokens: number;
  signal?: AbortSignal | undefined;
  /** Each piece of text as it arrives; once one has been shown, no other model is tried. */
  onDelta(text: string): void;
  /** A model that failed before the next is tried (to count and log it). */
  onFailure(model: string, error: CharbridgeError): Promise<void> | void;
}

export interface ModelAnswer {
  text: string;
  usage: TokenUsage | undefined;
  /** The model that answered. */
  model: string;
}

const asError = (err: unknown) => (err instanceof CharbridgeError ? err : new ModelError(err instanceof Error ? err.message : String(err), err));

/**
 * Stream one answer, falling back along `models` when one fails (after the SDK's own retries)
 * before it produced any text: a fallback never restarts an answer the user has already seen
 * part of. Throws the last failure when every model failed.
 */
export async function streamWithFallback(client: ModelClient, call: ModelCall): Promise<ModelAnswer> {
  let last: CharbridgeError | undefined;
  for (const [i, model] of call.models.entries()) {
    let text = '';
    let usage: TokenUsage | undefined;
    try {
      for await (const chunk of client.stream({ messages: call.messages, model, maxTokens: call.maxTokens, signal: call.signal })) {
        if (chunk.type === 'delta') {
          text += chunk.text;
          call.onDelta(chunk.text);
        } else if (chunk.promptTokens || chunk.completionTokens) {
          usage = { promptTokens: chunk.promptTokens, completionTokens: chunk.completionTokens, totalTokens: chunk.promptTokens + chunk.completionTokens };
        }
      }
      if (!text.trim()) throw new EmptyReplyError();
      return { text, usage, model };
    } catch (err) {
      last = asError(err);
      const more = i < call.models.length - 1;
      if (!more || text || call.signal?.aborted) throw last;
      await call.onFailure(model, last);
    }
  }
  throw last ?? new ModelError('No model to ask');
}
