import OpenAI, { type ClientOptions } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { causeChain, ModelError, ModelUnavailableError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { keepAliveFetch } from '../core/http-fetch.js';
import type { SdkFetch } from '../core/network.js';
import type { Embedder, JsonAnswer, ModelChunk, ModelClient, ModelRequest } from './model.js';

export interface OpenAIModelConfig {
  apiKey?: string | undefined;
  baseURL?: string | undefined;
  model: string;
  timeoutMs: number;
  maxRetries: number;
  /** Consecutive connection failures that open the circuit (fail fast) for `breakerCooldownMs`. */
  breakerThreshold?: number;
  breakerCooldownMs?: number;
  /** How to reach the server (through the proxy, ../core/network.ts); direct keep-alive when not given. */
  fetch?: SdkFetch;
}

/**
 * ModelClient over any OpenAI-compatible server (OpenAI, Ollama, vLLM, OpenRouter…). The only
 * importer of the `openai` SDK. The SDK retries 429/5xx with backoff (honouring retry-after-ms);
 * what still fails is mapped to ModelError (the server answered with an error) or
 * ModelUnavailableError (nothing answered, or the circuit is open after repeated failures).
 */
export class OpenAIModel implements ModelClient {
  readonly offline = false;
  readonly label: string;
  readonly defaultModel: string;
  private client: OpenAI;
  private failures = 0;
  private openUntil = 0;

  constructor(private cfg: OpenAIModelConfig, private clock: Clock = systemClock) {
    this.client = new OpenAI({
      apiKey: cfg.apiKey ?? 'not-needed',
      baseURL: cfg.baseURL ?? 'https://api.openai.com/v1',
      timeout: cfg.timeoutMs,
      maxRetries: cfg.maxRetries,
      fetch: (cfg.fetch ?? keepAliveFetch) as unknown as ClientOptions['fetch'],
    });
    this.label = `openai:${cfg.model}`;
    this.defaultModel = cfg.model;
  }

  async *stream(req: ModelRequest): AsyncIterable<ModelChunk> {
    if (this.clock.now() < this.openUntil) {
      throw new ModelUnavailableError('The model server is unreachable (circuit open); try again shortly');
    }
    let stream;
    try {
      stream = await this.client.chat.completions.create(
        {
          model: req.model ?? this.cfg.model,
          messages: req.messages as ChatCompletionMessageParam[],
          stream: true,
          stream_options: { include_usage: true },
          ...(req.maxTokens ? { max_tokens: req.maxTokens } : {}),
        },
        { signal: req.signal },
      );
    } catch (err) {
      throw this.mapError(err);
    }
    let sawUsage = false;
    try {
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta?.content;
        if (text) yield { type: 'delta', text };
        if (chunk.usage) {
          sawUsage = true;
          yield { type: 'usage', promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
        }
      }
    } catch (err) {
      // A stream cut midway surfaces as the transport's own error (node-fetch's premature close), not an SDK error.
      throw this.mapError(err);
    }
    // The SDK ends an aborted stream silently; say so, or a half reply would look complete.
    if (req.signal?.aborted) throw new ModelUnavailableError('Model call aborted');
    this.failures = 0;
    if (!sawUsage) yield { type: 'usage', promptTokens: 0, completionTokens: 0 };
  }

  async completeJson(req: ModelRequest): Promise<JsonAnswer> {
    if (this.clock.now() < this.openUntil) {
      throw new ModelUnavailableError('The model server is unreachable (circuit open); try again shortly');
    }
    try {
      const r = await this.client.chat.completions.create(
        {
          model: req.model ?? this.cfg.model,
          messages: req.messages as ChatCompletionMessageParam[],
          response_format: { type: 'json_object' },
          ...(req.maxTokens ? { max_tokens: req.maxTokens } : {}),
        },
        { signal: req.signal },
      );
      this.failures = 0;
      return { text: r.choices[0]?.message?.content ?? '', promptTokens: r.usage?.prompt_tokens ?? 0, completionTokens: r.usage?.completion_tokens ?? 0 };
    } catch (err) {
      throw this.mapError(err);
    }
  }

  /** An Embedder over the same server (`/v1/embeddings`), for `model`. */
  embedder(model: string): Embedder {
    return {
      model,
      embed: async (texts, signal) => {
        if (!texts.length) return [];
        try {
          const r = await this.client.embeddings.create({ model, input: texts, encoding_format: 'float' }, { signal });
          return [...r.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
        } catch (err) {
          throw this.mapError(err);
        }
      },
    };
  }

  private mapError(err: unknown): Error {
    if (err instanceof OpenAI.APIUserAbortError) return new ModelUnavailableError('Model call aborted', err);
    if (err instanceof OpenAI.APIError && err.status === 407) {
      // The outbound proxy, not the model server, answered: its login is the operator's to fix.
      return new ModelUnavailableError('The proxy refused the model call (407 Proxy Authentication Required): check the user and password in HTTP_PROXY / HTTPS_PROXY', err);
    }
    if (err instanceof OpenAI.APIConnectionError && causeChain(err).some((e) => e instanceof Error && SOCKS_LOGIN_REFUSED.test(e.message))) {
      return new ModelUnavailableError('The proxy refused the model call (SOCKS5 login refused): check the user and password in ALL_PROXY / HTTPS_PROXY / HTTP_PROXY', err);
    }
    if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
      this.failures = 0;
      return new ModelError(`The model server answered ${err.status}: ${err.message}`.slice(0, 300), err);
    }
    // Connection refused, DNS, timeout, or a stream cut midway: nothing usable answered.
    this.failures++;
    if (this.failures >= (this.cfg.breakerThreshold ?? 5)) {
      this.openUntil = this.clock.now() + (this.cfg.breakerCooldownMs ?? 30_000);
      this.failures = 0;
    }
    const msg = err instanceof Error ? err.message : String(err);
    return new ModelUnavailableError(`The model server could not be reached: ${msg}`.slice(0, 300), err);
  }
}

/** What the `socks` library says when a SOCKS5 proxy turns down the login given, or wanted one and got none. */
const SOCKS_LOGIN_REFUSED = /Socks5 Authentication failed|no accepted authentication type/;
