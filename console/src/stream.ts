import { createParser } from 'eventsource-parser';
import { errorFrom, requestHeaders } from './api';

/** One `data:` event of `POST /api/v1/chat` in `mode: "stream"`. */
export type ChatStreamEvent =
  | { type: 'start'; sessionId: string }
  | { type: 'content'; text: string }
  | { type: 'end'; message: { id: string; content: string; sentAt: string }; credits: { used: number; remaining: number | null } }
  | { type: 'error'; error: { code: string; message: string } };

export interface ChatInput {
  characterId: string;
  message: string;
  sessionId?: string | undefined;
}

/**
 * Send a message and hand each server-sent event to `onEvent` as it arrives. Refusals before
 * the stream starts (402, 404, 409, 429…) are thrown as ApiError; a model failure arrives as an
 * `error` event.
 */
export async function streamChat(input: ChatInput, onEvent: (e: ChatStreamEvent) => void, signal?: AbortSignal): Promise<void> {
  const res = await fetch('/api/v1/chat', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...requestHeaders('POST', true), accept: 'text/event-stream' },
    body: JSON.stringify({ ...input, mode: 'stream' }),
    ...(signal ? { signal } : {}),
  });
  if (!res.ok || !res.body) throw await errorFrom(res);
  const parser = createParser({
    onEvent: (event) => {
      if (event.data) onEvent(JSON.parse(event.data) as ChatStreamEvent);
    },
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
}
