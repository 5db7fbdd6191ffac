import { causeChain, isCharbridgeError } from '../core/errors.js';
import type { JsonAnswer, ModelChunk, ModelClient, ModelRequest } from './model.js';

/**
 * Why a model call failed, coarse enough to chart: the server's answer (`rate_limited` 429,
 * `server_error` 5xx, `client_error` other 4xx), no answer (`timeout`, `unreachable`), the caller
 * gave up (`aborted`), or the model answered nothing (`empty`).
 */
export type ModelErrorKind = 'rate_limited' | 'server_error' | 'client_error' | 'timeout' | 'unreachable' | 'aborted' | 'empty' | 'other';

/** One finished model call. Times are milliseconds. */
export interface ModelCallEvent {
  model: string;
  durationMs: number;
  /** Until the first text arrived; null when none did. */
  firstTokenMs: number | null;
  error: ModelErrorKind | null;
}

/** The HTTP status a failure carries (the SDK's error is the cause of our ModelError). */
export function modelStatusOf(err: unknown): number | undefined {
  for (const e of causeChain(err, 3)) {
    const status = (e as { status?: unknown }).status;
    if (typeof status === 'number' && !isCharbridgeError(e)) return status;
  }
  return undefined;
}

/** Sort a failed call's error into a ModelErrorKind. */
export function modelErrorKind(err: unknown, signal?: AbortSignal): ModelErrorKind {
  if (signal?.aborted) return 'aborted';
  const status = modelStatusOf(err);
  if (status === 429) return 'rate_limited';
  if (status !== undefined) return status >= 500 ? 'server_error' : 'client_error';
  const text = `${err instanceof Error ? `${err.name} ${err.message}` : String(err)} ${(err as { cause?: { name?: string } })?.cause?.name ?? ''}`;
  if (/timeout|timed out/i.test(text)) return 'timeout';
  if (/abort/i.test(text)) return 'aborted';
  if (isCharbridgeError(err) && err.code === 'MODEL_UNAVAILABLE') return 'unreachable';
  return 'other';
}

/**
 * A ModelClient that reports every call — its duration, time to first text and how it failed —
 * to `listener`, and otherwise is the model it wraps. The runtime wraps its model once, so
 * metrics see every call without the engine knowing they exist.
 */
export function observeModel(model: ModelClient, listener: (e: ModelCallEvent) => void, now: () => number = () => performance.now()): ModelClient {
  return {
    get label() {
      return model.label;
    },
    get defaultModel() {
      return model.defaultModel;
    },
    get offline() {
      return model.offline;
    },
    async completeJson(req: ModelRequest): Promise<JsonAnswer> {
      const started = now();
      const report = (error: ModelErrorKind | null, firstTokenMs: number | null) => {
        try {
          listener({ model: req.model ?? model.defaultModel, durationMs: now() - started, firstTokenMs, error });
        } catch {
          // Counting a call must never break it.
        }
      };
      try {
        const answer = await model.completeJson(req);
        const ms = now() - started;
        report(answer.text.trim() ? null : 'empty', ms);
        return answer;
      } catch (err) {
        report(modelErrorKind(err, req.signal), null);
        throw err;
      }
    },
    async *stream(req: ModelRequest): AsyncIterable<ModelChunk> {
      const started = now();
      let firstTokenMs: number | null = null;
      let text = false;
      const report = (error: ModelErrorKind | null) => {
        try {
          listener({ model: req.model ?? model.defaultModel, durationMs: now() - started, firstTokenMs, error });
        } catch {
          // Counting a call must never break it.
        }
      };
      let reported = false;
      try {
        for await (const chunk of model.stream(req)) {
          if (chunk.type === 'delta' && chunk.text) {
            firstTokenMs ??= now() - started;
            if (chunk.text.trim()) text = true;
          }
          yield chunk;
        }
        reported = true;
        report(req.signal?.aborted ? 'aborted' : text ? null : 'empty');
      } catch (err) {
        reported = true;
        report(modelErrorKind(err, req.signal));
        throw err;
      } finally {
        if (!reported) report('aborted'); // the caller stopped reading
      }
    },
  };
}
