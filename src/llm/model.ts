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

/** A non-streamed answer in JSON mode (background work such as memory extraction). */
export interface JsonAnswer {
  /** The model's text, meant to be one JSON object (the caller parses it and tolerates less). */
  text: string;
  promptTokens: number;
  completionTokens: number;
}

/** Turns texts into vectors for similarity search (`/v1/embeddings`). */
export interface Embedder {
  readonly model: string;
  /** One vector per text, in order. */
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
}

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
  /**
   * One whole answer asked for as a JSON object (`response_format: {type: "json_object"}`).
   * Same errors as `stream`.
   */
  completeJson(req: ModelRequest): Promise<JsonAnswer>;
}
