import { isCharbridgeError } from '../core/errors.js';
import type { Platform, TokenUsage } from '../core/types.js';
import type { MessageContext, TurnContext } from './pipeline.js';

/**
 * How a turn ended. `replied`: a reply was stored; `discarded`: the reply was not wanted (a
 * proactive "nothing to say"); `model_error`: the model failed; `refused`: a limit or the
 * credits stopped it before any work; `skipped`: a platform message that never reached the model
 * (a command, a duplicate, a rate-limited or unaddressed message); `failed`: an unexpected error.
 */
export type TurnOutcome = 'replied' | 'discarded' | 'model_error' | 'refused' | 'skipped' | 'failed';

/** One finished turn, as told to `engine.onTurn` subscribers (metrics, audits). */
export interface TurnFinishedEvent {
  source: TurnContext['source'];
  /** The conversation's platform (`api` for HTTP turns refused before a session existed). */
  platform: Platform;
  outcome: TurnOutcome;
  /** The error's code for `model_error`, `refused` and `failed` (MODEL_UNAVAILABLE, RATE_LIMITED…). */
  errorCode: string | null;
  /** The model asked, when the turn reached it. */
  model: string | null;
  /** Tokens of a reply (stored or discarded); null otherwise. */
  usage: TokenUsage | null;
  /** Credits charged to the paying key (nothing when the turn produced no stored reply). */
  credits: number;
  /** From the moment the engine took the turn (queueing included) to its end. */
  durationMs: number;
}

export type TurnListener = (e: TurnFinishedEvent) => void;

/** The event for a turn whose chain has ended; `thrown` is what the chain threw, if anything. */
export function turnFinished(ctx: TurnContext, durationMs: number, thrown?: unknown): TurnFinishedEvent {
  const platform = ctx.conversation?.platform ?? (ctx as Partial<MessageContext>).msg?.platform ?? 'api';
  const base = { source: ctx.source, platform, durationMs, model: null, usage: null, credits: 0, errorCode: null };
  const r = ctx.result;
  if (r?.ok) {
    const stored = r.message !== null;
    return { ...base, outcome: stored ? 'replied' : 'discarded', model: r.model, usage: r.usage, credits: stored ? (ctx.payer?.cost ?? 0) : 0 };
  }
  if (r) return { ...base, outcome: 'model_error', errorCode: r.error.code };
  if (thrown !== undefined) {
    const refused = isCharbridgeError(thrown) && thrown.status >= 400 && thrown.status < 500;
    return { ...base, outcome: refused ? 'refused' : 'failed', errorCode: isCharbridgeError(thrown) ? thrown.code : null };
  }
  return { ...base, outcome: ctx.source === 'platform' ? 'skipped' : 'failed' };
}
