import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, apiUrl, avatarUrl } from '../api';
import { Avatar } from '../components/avatar';
import { Alert, SelectField, Status, TextField } from '../components/fields';
import { PageTitle } from '../components/layout';
import { Pager } from '../components/pager';
import { useApi } from '../components/use-api';
import { CardImport } from '../characters/card-import';
import { useSession } from '../session';
import type { CharacterSummary, Pagination } from '../types';

const OWNERSHIP = [
  { value: 'all', label: 'All I can see' },
  { value: 'mine', label: 'Mine' },
  { value: 'public', label: 'Public (other keys)' },
  { value: 'presets', label: 'Presets' },
];

/** The card formats GET /characters/:id/export writes. */
const EXPORTS = [
  { format: 'png', label: 'PNG' },
  { format: 'json', label: 'JSON' },
  { format: 'charx', label: 'CHARX' },
] as const;

/** A card's description names the character by macro ({{char}}, or <BOT> in old cards); a list shows the name. */
const withName = (text: string, name: string) => text.replace(/\{\{char\}\}|<BOT>/gi, name);

const BADGE: Record<CharacterSummary['ownership'], string> = { preset: 'Preset', mine: 'Mine', public: 'Public', other: "Another key's" };

/** Characters the key can see: search, filter, import a card file, open in the playground, edit, export as a card and delete. */
export function Characters() {
  const session = useSession();
  const created = useLocation().query.created;
  const [search, setSearch] = useState('');
  const [ownership, setOwnership] = useState('all');
  const [query, setQuery] = useState({ search: '', ownership: 'all', page: 1 });
  const [status, setStatus] = useState<string | undefined>(created ? `Created ${created}.` : undefined);
  const [error, setError] = useState<Error>();
  const list = useApi(
    () => api<{ characters: CharacterSummary[]; pagination: Pagination }>('/characters', { query: { ...query, limit: 24 } }),
    [query.search, query.ownership, query.page],
  );

  const canEdit = (c: CharacterSummary) => !c.isPreset && (c.ownership === 'mine' || session.caller.isAdmin);

  async function remove(c: CharacterSummary) {
    if (!confirm(`Delete ${c.name}? Conversations with it stay, but it cannot be chatted with any more.`)) return;
    setError(undefined);
    try {
      await api(`/characters/${encodeURIComponent(c.id)}`, { method: 'DELETE' });
      setStatus(`Deleted ${c.name}.`);
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  }

  return (
    <>
      <PageTitle>Characters</PageTitle>
      <p class="actions">
        <a class="button primary" href="/console/characters/new">
          New character
        </a>
      </p>
      <form
        class="filters"
        role="search"
        aria-label="Find characters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ search: search.trim(), ownership, page: 1 });
        }}
      >
        <TextField id="character-search" label="Search" type="search" value={search} onInput={setSearch} />
        <SelectField id="character-ownership" label="Show" value={ownership} options={OWNERSHIP} onChange={setOwnership} />
        <button type="submit">Search</button>
      </form>
      <Alert error={error ?? list.error} />
      {status ? <Status>{status}</Status> : null}
      <CardImport
        onBusy={(name) => {
          setError(undefined);
          setStatus(`Importing ${name}…`);
        }}
        onImported={(c) => {
          setStatus(`Imported ${c.name}.`);
          list.reload();
        }}
        onError={(err) => {
          setStatus(undefined);
          setError(err);
        }}
      >
        {list.loading && !list.data ? <p>Loading characters…</p> : null}
        {list.data ? (
          <>
            <p class="count" aria-live="polite">
              {list.data.pagination.total} {list.data.pagination.total === 1 ? 'character' : 'characters'}
            </p>
            <ul class="cards" aria-label="Characters">
              {list.data.characters.map((c) => (
                <li class="card" key={c.id}>
                  <div class="card-head">
                    <Avatar name={c.name} url={avatarUrl(c)} />
                    <div>
                      <h2>{c.name}</h2>
                      <p class="meta">
                        <span class="badge">{BADGE[c.ownership]}</span> {c.slug}
                        {c.occupation ? ` · ${c.occupation}` : ''}
                      </p>
                    </div>
                  </div>
                  {c.description ? <p class="description">{withName(c.description, c.name)}</p> : null}
                  <p class="card-actions">
                    <a href={`/console/playground?character=${encodeURIComponent(c.id)}`} aria-label={`Chat with ${c.name}`}>
                      Chat
                    </a>
                    {canEdit(c) ? (
                      <a href={`/console/characters/${encodeURIComponent(c.id)}/edit`} aria-label={`Edit ${c.name}`}>
                        Edit
                      </a>
                    ) : null}
                    <span class="export-links" role="group" aria-label={`Export ${c.name} as a card`}>
                      Export:
                      {EXPORTS.map((x) => (
                        <a key={x.format} href={apiUrl(`/characters/${encodeURIComponent(c.id)}/export`, { format: x.format })} download aria-label={`Export ${c.name} as ${x.label}`}>
                          {x.label}
                        </a>
                      ))}
                    </span>
                    {canEdit(c) ? (
                      <button type="button" class="link danger" onClick={() => remove(c)} aria-label={`Delete ${c.name}`}>
                        Delete
                      </button>
                    ) : null}
                  </p>
                </li>
              ))}
            </ul>
            <Pager label="Character pages" pagination={list.data.pagination} onPage={(page) => setQuery({ ...query, page })} />
          </>
        ) : null}
      </CardImport>
    </>
  );
}
