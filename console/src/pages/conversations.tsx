import { useState } from 'preact/hooks';
import { api } from '../api';
import { Alert, SelectField, Status, TextField } from '../components/fields';
import { when } from '../components/format';
import { PageTitle } from '../components/layout';
import { Pager } from '../components/pager';
import { useApi } from '../components/use-api';
import { useCharacterNames } from '../components/use-characters';
import { useSession } from '../session';
import type { ConversationSummary, Pagination } from '../types';

const PLATFORMS = [
  { value: '', label: 'All platforms' },
  { value: 'api', label: 'API' },
  { value: 'telegram', label: 'Telegram' },
  { value: 'discord', label: 'Discord' },
  { value: 'slack', label: 'Slack' },
];

/** A local date as the start (or, with `endOfDay`, the end) of that day, in ISO form for the API. */
function dayBound(date: string, endOfDay: boolean): string | undefined {
  if (!date) return undefined;
  const d = new Date(`${date}T00:00:00`);
  if (endOfDay) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

const NO_FILTERS = { platform: '', characterId: '', from: '', to: '' };

/** The key's API conversations (and, for the admin, platform ones), filtered by platform, character and date, and paged; clear or delete each. */
export function Conversations() {
  const session = useSession();
  const { characters, nameOf } = useCharacterNames();
  const [filters, setFilters] = useState(NO_FILTERS);
  const [query, setQuery] = useState({ ...filters, page: 1 });
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<Error>();
  const list = useApi(
    () =>
      api<{ conversations: ConversationSummary[]; pagination: Pagination }>('/conversations', {
        query: {
          page: query.page,
          limit: 25,
          platform: query.platform,
          characterId: query.characterId,
          since: dayBound(query.from, false),
          until: dayBound(query.to, true),
        },
      }),
    [query],
  );
  const set = (k: keyof typeof filters) => (v: string) => setFilters((f) => ({ ...f, [k]: v }));
  const filtered = Object.values(query).some((v) => typeof v === 'string' && v !== '');

  /** Run an action on one conversation, then say what happened and show the list as it is now. */
  async function act(done: string, call: () => Promise<unknown>) {
    setError(undefined);
    setStatus(undefined);
    try {
      await call();
      setStatus(done);
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  }

  const clear = (c: ConversationSummary) =>
    act(`Cleared the context of the conversation with ${nameOf(c.characterId)}: the character no longer sees its earlier messages.`, () =>
      api(`/conversations/${encodeURIComponent(c.sessionId)}/clear`, { method: 'POST' }),
    );

  const remove = (c: ConversationSummary) => {
    if (!confirm(`Delete this conversation with ${nameOf(c.characterId)} and all its messages for good?`)) return;
    void act(`Deleted the conversation with ${nameOf(c.characterId)}.`, () => api(`/conversations/${encodeURIComponent(c.sessionId)}`, { method: 'DELETE' }));
  };

  return (
    <>
      <PageTitle>Conversations</PageTitle>
      <form
        class="filters"
        aria-label="Filter conversations"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ ...filters, page: 1 });
        }}
      >
        {session.caller.isAdmin ? <SelectField id="cv-platform" label="Platform" value={filters.platform} options={PLATFORMS} onChange={set('platform')} /> : null}
        <SelectField
          id="cv-character"
          label="Character"
          value={filters.characterId}
          options={[{ value: '', label: 'Any character' }, ...characters.map((c) => ({ value: c.id, label: c.name }))]}
          onChange={set('characterId')}
        />
        <TextField id="cv-from" label="Active from" type="date" value={filters.from} onInput={set('from')} />
        <TextField id="cv-to" label="Active until" type="date" value={filters.to} onInput={set('to')} />
        <button type="submit">Apply filters</button>
        {filtered ? (
          <button
            type="button"
            onClick={() => {
              setFilters(NO_FILTERS);
              setQuery({ ...NO_FILTERS, page: 1 });
            }}
          >
            Show all
          </button>
        ) : null}
      </form>
      <Alert error={error ?? list.error} />
      {status ? <Status>{status}</Status> : null}
      {list.data ? (
        list.data.conversations.length ? (
          <>
            <div class="table-wrap" role="region" aria-label="Conversations table" tabIndex={0}>
              <table>
                <caption class="sr-only">Conversations, most recently active first</caption>
                <thead>
                  <tr>
                    <th scope="col">Conversation</th>
                    <th scope="col">Last active</th>
                    <th scope="col">Platform</th>
                    <th scope="col">Messages</th>
                    <th scope="col">Latest message</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.conversations.map((c) => (
                    <tr key={c.sessionId}>
                      <th scope="row">
                        <a href={`/console/conversations/${encodeURIComponent(c.sessionId)}?platform=${c.platform}`}>{nameOf(c.characterId)}</a>
                        <span class="meta"> {c.chatType}</span>
                      </th>
                      <td>{when(c.updatedAt)}</td>
                      <td>{c.platform}</td>
                      <td>{c.messageCount}</td>
                      <td class="preview">{c.preview ?? '—'}</td>
                      <td class="row-actions">
                        <button type="button" class="link" onClick={() => void clear(c)} aria-label={`Clear context of the conversation with ${nameOf(c.characterId)}, ${when(c.updatedAt)}`}>
                          Clear
                        </button>
                        <button type="button" class="link danger" onClick={() => remove(c)} aria-label={`Delete the conversation with ${nameOf(c.characterId)}, ${when(c.updatedAt)}`}>
                          Delete
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager label="Conversation pages" pagination={list.data.pagination} onPage={(page) => setQuery({ ...query, page })} />
          </>
        ) : (
          <p>{filtered ? 'No conversations match these filters.' : 'No conversations yet.'}</p>
        )
      ) : list.loading ? (
        <p>Loading conversations…</p>
      ) : null}
    </>
  );
}
