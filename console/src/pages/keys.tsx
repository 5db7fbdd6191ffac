import { useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { Alert, Status, TextField } from '../components/fields';
import { when } from '../components/format';
import { PageTitle } from '../components/layout';
import { useApi } from '../components/use-api';
import type { ApiKey, CreatedApiKey } from '../types';

/** '' → null (unlimited / none); digits → a number; anything else is sent as typed so the API names the problem. */
const creditsValue = (v: string) => (v.trim() === '' ? null : /^\d+$/.test(v.trim()) ? Number(v.trim()) : v);
const urlValue = (v: string) => (v.trim() === '' ? null : v.trim());

function fieldErrors(err: unknown, prefix: string): { fields: Record<string, string>; other?: string } {
  if (err instanceof ApiError && err.field && document.getElementById(`${prefix}-${err.field}`)) return { fields: { [err.field]: err.message } };
  return { fields: {}, other: (err as Error).message };
}

/** The key shown once after creation, with a copy button. */
function NewKey({ created }: { created: CreatedApiKey }) {
  const [copied, setCopied] = useState<string>();
  const input = useRef<HTMLInputElement>(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('Copied to the clipboard.');
    } catch {
      input.current?.select();
      setCopied('Selected: press Ctrl+C (⌘C) to copy.');
    }
  }
  return (
    <section class="new-key" aria-labelledby="new-key-title">
      <h2 id="new-key-title" tabIndex={-1}>
        Key for {created.name}
      </h2>
      <p>Copy it now: it is shown this once and stored only as a hash.</p>
      <div class="copy-row">
        <label for="new-key-value" class="sr-only">
          New API key
        </label>
        <input id="new-key-value" ref={input} readOnly value={created.key} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>
          Copy key
        </button>
      </div>
      {created.webhookSecret ? (
        <p>
          Webhook secret (also shown once): <code>{created.webhookSecret}</code>
        </p>
      ) : null}
      {copied ? <Status>{copied}</Status> : null}
    </section>
  );
}

function KeyRow({ k, onChanged }: { k: ApiKey; onChanged: (message: string) => void }) {
  const [editing, setEditing] = useState(false);
  const [credits, setCredits] = useState(k.credits === null ? '' : String(k.credits));
  const [webhookUrl, setWebhookUrl] = useState(k.webhookUrl ?? '');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const prefix = `key-${k.id}`;

  async function patch(body: Record<string, unknown>, done: string) {
    setErrors({});
    setError(undefined);
    try {
      await api<ApiKey>(`/api-keys/${encodeURIComponent(k.id)}`, { method: 'PATCH', body });
      setEditing(false);
      onChanged(done);
    } catch (err) {
      const e = fieldErrors(err, prefix);
      setErrors(e.fields);
      setError(e.other);
    }
  }

  const webhook = !k.webhookUrl ? 'none' : k.webhookDisabled ? 'disabled after failed deliveries' : 'active';
  return (
    <li class={`card key${k.disabled ? ' disabled' : ''}`}>
      <h2>{k.name}</h2>
      <dl class="facts">
        <div>
          <dt>Key</dt>
          <dd>
            <code>{k.keyPrefix}…</code>
          </dd>
        </div>
        <div>
          <dt>Credits</dt>
          <dd>{k.credits === null ? `unlimited (${k.creditsUsed} used)` : `${k.remaining} of ${k.credits} left`}</dd>
        </div>
        <div>
          <dt>Webhook</dt>
          <dd>
            {webhook}
            {k.webhookUrl ? <span class="meta"> {k.webhookUrl}</span> : null}
          </dd>
        </div>
        <div>
          <dt>State</dt>
          <dd>{k.disabled ? 'disabled' : 'active'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{when(k.createdAt)}</dd>
        </div>
      </dl>
      <Alert error={error} />
      {editing ? (
        <form
          class="inline-form"
          aria-label={`Change ${k.name}`}
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void patch({ credits: creditsValue(credits), webhookUrl: urlValue(webhookUrl) }, `Saved ${k.name}.`);
          }}
        >
          <TextField id={`${prefix}-credits`} label="Credits" inputMode="numeric" value={credits} onInput={setCredits} error={errors.credits} hint="Empty means unlimited" />
          <TextField id={`${prefix}-webhookUrl`} label="Webhook URL" type="url" value={webhookUrl} onInput={setWebhookUrl} error={errors.webhookUrl} hint="Where proactive messages are POSTed; empty for none" />
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <p class="card-actions">
          <button type="button" onClick={() => setEditing(true)} aria-label={`Change credits and webhook of ${k.name}`}>
            Change credits or webhook
          </button>
          {k.webhookDisabled ? (
            <button type="button" onClick={() => void patch({ webhookDisabled: false }, `Re-enabled the webhook of ${k.name}.`)}>
              Re-enable webhook
            </button>
          ) : null}
          <button
            type="button"
            class={k.disabled ? '' : 'danger'}
            onClick={() => void patch({ disabled: !k.disabled }, `${k.disabled ? 'Enabled' : 'Disabled'} ${k.name}.`)}
          >
            {k.disabled ? `Enable ${k.name}` : `Disable ${k.name}`}
          </button>
        </p>
      )}
    </li>
  );
}

interface KeyPage {
  apiKeys: ApiKey[];
  nextCursor: string | null;
}

/** Tenants' API keys (admin), a page at a time: create (shown once), credits, webhook, disable. */
export function Keys() {
  const keys = useApi(() => api<KeyPage>('/api-keys'), []);
  // Pages after the first, loaded on request; a reload starts from the first page again.
  const [more, setMore] = useState<{ keys: ApiKey[]; next: string | null }>();
  const next = more ? more.next : (keys.data?.nextCursor ?? null);
  const reload = () => {
    setMore(undefined);
    keys.reload();
  };
  async function loadMore() {
    if (!next) return;
    try {
      const page = await api<KeyPage>(`/api-keys?cursor=${encodeURIComponent(next)}`);
      setMore({ keys: [...(more?.keys ?? []), ...page.apiKeys], next: page.nextCursor });
    } catch (err) {
      setError(fieldErrors(err, 'nk').other ?? 'Could not load more keys.');
    }
  }
  const [form, setForm] = useState({ name: '', credits: '', webhookUrl: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<CreatedApiKey>();
  const [status, setStatus] = useState<string>();
  const set = (k: keyof typeof form) => (v: string) => setForm((f) => ({ ...f, [k]: v }));

  async function create(e: Event) {
    e.preventDefault();
    setErrors({});
    setError(undefined);
    setStatus(undefined);
    try {
      const body: Record<string, unknown> = { name: form.name };
      if (form.credits.trim()) body.credits = creditsValue(form.credits);
      if (form.webhookUrl.trim()) body.webhookUrl = form.webhookUrl.trim();
      const key = await api<CreatedApiKey>('/api-keys', { method: 'POST', body });
      setCreated(key);
      setForm({ name: '', credits: '', webhookUrl: '' });
      reload();
      requestAnimationFrame(() => document.getElementById('new-key-title')?.focus());
    } catch (err) {
      const fe = fieldErrors(err, 'nk');
      setErrors(fe.fields);
      setError(fe.other);
      const field = Object.keys(fe.fields)[0];
      if (field) document.getElementById(`nk-${field}`)?.focus();
    }
  }

  return (
    <>
      <PageTitle>API keys</PageTitle>
      <form class="filters" onSubmit={create} noValidate aria-label="Create a key">
        <TextField id="nk-name" label="Name" value={form.name} onInput={set('name')} error={errors.name} required />
        <TextField id="nk-credits" label="Credits" inputMode="numeric" value={form.credits} onInput={set('credits')} error={errors.credits} hint="Empty means unlimited" />
        <TextField id="nk-webhookUrl" label="Webhook URL" type="url" value={form.webhookUrl} onInput={set('webhookUrl')} error={errors.webhookUrl} hint="Optional" />
        <button type="submit" class="primary">
          Create key
        </button>
      </form>
      <Alert error={error ?? keys.error} />
      {created ? <NewKey created={created} /> : null}
      {status ? <Status>{status}</Status> : null}
      {keys.data ? (
        keys.data.apiKeys.length ? (
          <>
            <ul class="cards" aria-label="API keys">
              {[...keys.data.apiKeys, ...(more?.keys ?? [])].map((k) => (
                <KeyRow
                  key={`${k.id}:${k.updatedAt}`}
                  k={k}
                  onChanged={(m) => {
                    setStatus(m);
                    reload();
                  }}
                />
              ))}
            </ul>
            {next ? (
              <button type="button" onClick={loadMore}>
                Show more keys
              </button>
            ) : null}
          </>
        ) : (
          <p>No tenant keys yet.</p>
        )
      ) : null}
    </>
  );
}
