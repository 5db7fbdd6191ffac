import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, avatarUrl } from '../api';
import { Avatar } from '../components/avatar';
import { Alert, SelectField } from '../components/fields';
import { PageTitle } from '../components/layout';
import { useApi } from '../components/use-api';
import { streamChat } from '../stream';
import type { CharacterSummary, History, Pagination } from '../types';

interface Line {
  key: string;
  role: 'user' | 'assistant' | 'note' | 'error';
  content: string;
  streaming?: boolean;
}

let lineSeq = 0;
const line = (role: Line['role'], content: string, streaming = false): Line => ({ key: `l${++lineSeq}`, role, content, streaming });

/**
 * Chat with any character the key can see, through the API's streaming chat: the reply appears
 * as the model writes it. `/clear` clears the conversation's context, as on the platforms.
 */
export function Playground() {
  const { query, route } = useLocation();
  const characters = useApi(() => api<{ characters: CharacterSummary[]; pagination: Pagination }>('/characters', { query: { limit: 100 } }), []);
  const [characterId, setCharacterId] = useState(query.character ?? '');
  const [sessionId, setSessionId] = useState<string | undefined>(query.session);
  const [lines, setLines] = useState<Line[]>([]);
  const [input, setInput] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const box = useRef<HTMLTextAreaElement>(null);
  const end = useRef<HTMLLIElement>(null);

  // The picker lists the first 100; a character asked for by URL beyond those is fetched on its own.
  const [extra, setExtra] = useState<CharacterSummary>();
  const list = [...(characters.data?.characters ?? []), ...(extra ? [extra] : [])];
  const character = list.find((c) => c.id === characterId || c.slug === characterId);

  useEffect(() => {
    if (!characters.data) return;
    if (!characterId && list[0]) setCharacterId(list[0].id);
    else if (characterId && !character) {
      api<CharacterSummary>(`/characters/${encodeURIComponent(characterId)}`).then(setExtra, (err: Error) => setError(err.message));
    }
  }, [characters.data, characterId]);

  useEffect(() => {
    if (!query.session) return;
    api<History>(`/conversations/${encodeURIComponent(query.session)}`, { query: { limit: 50 } }).then(
      (h) => {
        if (h.characterId) setCharacterId(h.characterId);
        setLines(h.messages.map((m) => ({ ...line(m.role, m.content), key: m.id })));
      },
      (err: Error) => setError(err.message),
    );
  }, []);

  useEffect(() => end.current?.scrollIntoView({ block: 'nearest' }), [lines]);

  function remember(id: string | undefined, charId: string) {
    setSessionId(id);
    const qs = new URLSearchParams({ character: charId, ...(id ? { session: id } : {}) });
    route(`/console/playground?${qs}`, true);
  }

  function pick(id: string) {
    setCharacterId(id);
    setLines([]);
    setError(undefined);
    remember(undefined, id);
  }

  async function clearContext() {
    if (!sessionId) {
      setLines((l) => [...l, line('note', 'Nothing to clear yet: this conversation has not started.')]);
      return;
    }
    try {
      await api(`/conversations/${encodeURIComponent(sessionId)}/clear`, { method: 'POST' });
      setLines((l) => [...l, line('note', 'Context cleared: the character no longer sees the messages above.')]);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function send(e?: Event) {
    e?.preventDefault();
    const text = input.trim();
    if (!text || busy || !character) return;
    setInput('');
    setError(undefined);
    if (text === '/clear') {
      await clearContext();
      box.current?.focus();
      return;
    }
    const reply = line('assistant', '', true);
    setLines((l) => [...l, line('user', text), reply]);
    const update = (patch: Partial<Line>) => setLines((l) => l.map((x) => (x.key === reply.key ? { ...x, ...patch } : x)));
    setBusy(true);
    let written = '';
    try {
      await streamChat({ characterId: character.id, message: text, sessionId }, (ev) => {
        if (ev.type === 'start') remember(ev.sessionId, character.id);
        else if (ev.type === 'content') update({ content: (written += ev.text) });
        else if (ev.type === 'end') {
          update({ content: ev.message.content, streaming: false });
          const left = ev.credits.remaining === null ? '' : `, ${ev.credits.remaining} left`;
          setLines((l) => [...l, line('note', `${ev.credits.used} credit${ev.credits.used === 1 ? '' : 's'} used${left}`)]);
        } else if (ev.type === 'error') update({ role: 'error', content: ev.error.message, streaming: false });
      });
    } catch (err) {
      update({ role: 'error', content: (err as Error).message, streaming: false });
    } finally {
      setBusy(false);
      box.current?.focus();
    }
  }

  return (
    <>
      <PageTitle>Playground</PageTitle>
      <Alert error={characters.error ?? error} />
      <div class="playground-bar">
        <SelectField
          id="pg-character"
          label="Character"
          value={character?.id ?? ''}
          options={list.map((c) => ({ value: c.id, label: `${c.name} (${c.slug})` }))}
          onChange={pick}
        />
        <button type="button" onClick={() => pick(characterId)} disabled={busy}>
          New conversation
        </button>
      </div>
      {character ? (
        <section class="chat" aria-label={`Conversation with ${character.name}`}>
          <div class="chat-head">
            <Avatar name={character.name} url={avatarUrl(character)} size={40} />
            <p>
              <strong>{character.name}</strong>
              {sessionId ? <span class="meta"> · session {sessionId}</span> : <span class="meta"> · new conversation</span>}
            </p>
          </div>
          <div role="log" aria-live="polite" aria-busy={busy ? 'true' : 'false'} aria-label="Messages">
          <ol class="log">
            {lines.map((l) => (
              <li key={l.key} class={`msg ${l.role}`}>
                <span class="sr-only">{l.role === 'user' ? 'You: ' : l.role === 'assistant' ? `${character.name}: ` : ''}</span>
                {l.content || (l.streaming ? '…' : '')}
              </li>
            ))}
            <li ref={end} class="log-end" aria-hidden="true" />
          </ol>
          </div>
          <form class="composer" onSubmit={send} aria-label="Send a message">
            <label for="pg-message">Message</label>
            <textarea
              id="pg-message"
              ref={box}
              rows={2}
              value={input}
              aria-describedby="pg-message-hint"
              onInput={(e) => setInput(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) void send(e);
              }}
            />
            <p id="pg-message-hint" class="hint">
              Enter sends, Shift+Enter starts a new line. <code>/clear</code> clears the context.
            </p>
            <button type="submit" class="primary" disabled={busy || !input.trim()}>
              {busy ? 'Replying…' : 'Send'}
            </button>
          </form>
        </section>
      ) : characters.loading ? (
        <p>Loading characters…</p>
      ) : null}
    </>
  );
}
