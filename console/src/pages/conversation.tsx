import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api } from '../api';
import { Alert, Status } from '../components/fields';
import { when } from '../components/format';
import { PageTitle } from '../components/layout';
import { useCharacterNames } from '../components/use-characters';
import type { History, HistoryMessage } from '../types';

const PAGE = 50;

/** One conversation's history (`?platform=api` offers to continue it in the playground), oldest first, with older pages on request; clear and delete. */
export function ConversationPage() {
  const { params } = useRoute();
  const { route, query } = useLocation();
  const id = params.id!;
  const { nameOf } = useCharacterNames();
  const [messages, setMessages] = useState<HistoryMessage[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [characterId, setCharacterId] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [status, setStatus] = useState<string>();
  const [loaded, setLoaded] = useState(false);

  async function load(before?: string) {
    try {
      const h = await api<History>(`/conversations/${encodeURIComponent(id)}`, { query: { limit: PAGE, before } });
      setCharacterId(h.characterId);
      setMessages((m) => (before ? [...h.messages, ...m] : h.messages));
      setHasMore(h.hasMore);
      setLoaded(true);
    } catch (err) {
      setError((err as Error).message);
    }
  }
  useEffect(() => void load(), [id]);

  async function clear() {
    try {
      await api(`/conversations/${encodeURIComponent(id)}/clear`, { method: 'POST' });
      setStatus('Context cleared: the character no longer sees these messages. They stay readable here.');
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function remove() {
    if (!confirm('Delete this conversation and all its messages for good?')) return;
    try {
      await api(`/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' });
      route('/console/conversations');
    } catch (err) {
      setError((err as Error).message);
    }
  }

  const name = nameOf(characterId);
  return (
    <>
      <PageTitle>{loaded ? `Conversation with ${name}` : 'Conversation'}</PageTitle>
      <p>
        <a href="/console/conversations">Back to conversations</a>
      </p>
      <Alert error={error} />
      {status ? <Status>{status}</Status> : null}
      {loaded ? (
        <>
          <p class="actions">
            {query.platform === 'api' && characterId ? (
              <a class="button" href={`/console/playground?character=${encodeURIComponent(characterId)}&session=${encodeURIComponent(id)}`}>
                Continue in playground
              </a>
            ) : null}
            <button type="button" onClick={clear}>
              Clear context
            </button>
            <button type="button" class="danger" onClick={remove}>
              Delete conversation
            </button>
          </p>
          {hasMore ? (
            <p>
              <button type="button" onClick={() => void load(messages[0]?.id)}>
                Load older messages
              </button>
            </p>
          ) : null}
          {messages.length ? (
            <ol class="log history" aria-label="Messages, oldest first">
              {messages.map((m) => (
                <li key={m.id} class={`msg ${m.role}`}>
                  <p class="meta">
                    <strong>{m.role === 'user' ? 'User' : name}</strong> · <time dateTime={m.timestamp}>{when(m.timestamp)}</time>
                  </p>
                  <p>{m.content}</p>
                </li>
              ))}
            </ol>
          ) : (
            <p>No messages yet.</p>
          )}
        </>
      ) : null}
    </>
  );
}
