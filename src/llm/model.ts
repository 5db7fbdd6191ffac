/**
 * The one interface the engine uses to talk to a language model. `openai.ts` implements it over
 * any OpenAI-compatible server; `offline.ts` is the built-in fallback. Tests use the real
 * openai implementation against a local fake server, never a stand-in for this interface.
 */
export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface ModelMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ContentPart[];
}

export interface ModelRequest {
  messages: ModelMessage[];
  /** Per-character model override; the configured model otherwise. */
  model?: string | undefined;
  maxTokens?: number | undefined;
  signal?: AbortSignal | undefined;
}

export type ModelChunk =
  | { type: 'delta'; text: string }
  | { type: 'usage'; promptTokens: number; completionTokens: number };

export interface ModelClient {
  /** Shown in /status and logs, e.g. `openai:gpt-4o-mini` or `offline`. */
  readonly label: string;
  /** The model asked when a character names none, e.g. `gpt-4o-mini`. */
  readonly defaultModel: string;
  /** True for the built-in offline model. */
  readonly offline: boolean;
  /**
   * Stream a completion. Throws ModelError when the server answered with an error on every
   * attempt, ModelUnavailableError when no server could be reached.
   */
  stream(req: ModelRequest): AsyncIterable<ModelChunk>;
}
