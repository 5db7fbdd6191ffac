import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, ApiError, avatarUrl } from '../api';
import { Avatar } from '../components/avatar';
import { Alert, CheckField, SelectField, Status, TextField } from '../components/fields';
import { PageTitle } from '../components/layout';
import type { Character } from '../types';

const TEXTS = ['name', 'personality', 'speakingStyle', 'description', 'occupation', 'appearanceDescription', 'avatar', 'greeting', 'scenario', 'exampleDialogue', 'systemPrompt', 'memoryInstructions'] as const;
type TextKey = (typeof TEXTS)[number];
type Form = Record<TextKey | 'gender' | 'age' | 'tags', string> & { isPublic: boolean; canInitiateConversation: boolean };

const REQUIRED = new Set<string>(['name', 'personality', 'speakingStyle']);

const EMPTY: Form = {
  ...(Object.fromEntries(TEXTS.map((k) => [k, ''])) as Record<TextKey, string>),
  gender: '',
  age: '',
  tags: '',
  isPublic: false,
  canInitiateConversation: false,
};

function formFrom(c: Character): Form {
  const f: Form = { ...EMPTY };
  for (const k of TEXTS) f[k] = (c[k] as string | null | undefined) ?? '';
  f.gender = c.gender ?? '';
  f.age = c.age === null || c.age === undefined ? '' : String(c.age);
  f.tags = (c.tags ?? []).join(', ');
  f.isPublic = c.isPublic ?? false;
  f.canInitiateConversation = c.canInitiateConversation ?? false;
  return f;
}

/**
 * The request body for creating. Nothing is checked here: the API's validation is the one truth
 * and its message is shown next to the field it names. Empty optional fields are left out, or
 * with `clearEmpty` sent as null (cleared).
 */
function bodyFrom(f: Form, clearEmpty = false): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const optional = (k: string, v: unknown, empty: boolean) => {
    if (!empty) body[k] = v;
    else if (clearEmpty) body[k] = null;
  };
  for (const k of TEXTS) {
    if (REQUIRED.has(k)) body[k] = f[k];
    else optional(k, f[k], f[k].trim() === '');
  }
  optional('gender', f.gender, f.gender === '');
  const age = f.age.trim();
  optional('age', /^-?\d+(\.\d+)?$/.test(age) ? Number(age) : age, age === '');
  body.tags = f.tags
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  body.isPublic = f.isPublic;
  body.canInitiateConversation = f.canInitiateConversation;
  return body;
}

/**
 * The PATCH body: only the fields the user changed (an emptied one as null). PATCH checks each
 * field it is sent with the create bounds, and a character imported from a card may hold what
 * create would refuse (a one-line personality, no speaking style, a long description); resending
 * untouched fields would make every edit of such a character fail.
 */
function changesFrom(before: Form, after: Form): Record<string, unknown> {
  const was = bodyFrom(before, true);
  const now = bodyFrom(after, true);
  return Object.fromEntries(Object.entries(now).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(was[k])));
}

const GENDERS = [
  { value: '', label: 'Not set' },
  { value: 'female', label: 'Female' },
  { value: 'male', label: 'Male' },
  { value: 'non-binary', label: 'Non-binary' },
  { value: 'other', label: 'Other' },
];

/** Create a character, or edit one the key owns, with the API's validation messages beside each field. */
export function CharacterEditor() {
  const { params } = useRoute();
  const { route } = useLocation();
  const editing = params.id;
  const [form, setForm] = useState<Form>(EMPTY);
  /** The character as loaded (or last saved), to send only what changed. */
  const [saved, setSaved] = useState<{ form: Form; character: Character }>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(!editing);

  useEffect(() => {
    if (!editing) return;
    api<Character>(`/characters/${encodeURIComponent(editing)}`).then(
      (c) => {
        setForm(formFrom(c));
        setSaved({ form: formFrom(c), character: c });
        setLoaded(true);
      },
      (err: Error) => setFormError(err.message),
    );
  }, [editing]);

  const set = (k: keyof Form) => (v: string | boolean) => setForm((f) => ({ ...f, [k]: v }));
  const err = (k: string) => errors[k];

  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(undefined);
    setStatus(undefined);
    try {
      if (editing && saved) {
        const changes = changesFrom(saved.form, form);
        if (!Object.keys(changes).length) {
          setStatus('Nothing changed.');
          return;
        }
        const after = await api<Character>(`/characters/${encodeURIComponent(editing)}`, { method: 'PATCH', body: changes });
        setForm(formFrom(after));
        setSaved({ form: formFrom(after), character: after });
        setStatus(`Saved ${after.name}.`);
      } else {
        const created = await api<Character>('/characters', { method: 'POST', body: bodyFrom(form) });
        route(`/console/characters?created=${encodeURIComponent(created.name)}`);
      }
    } catch (error) {
      const field = error instanceof ApiError && error.field ? error.field.split('.')[0]! : null;
      const input = field ? document.getElementById(`cf-${field}`) : null;
      if (field && input) {
        setErrors({ [field]: (error as Error).message });
        requestAnimationFrame(() => input.focus());
      } else {
        setFormError((error as Error).message);
      }
    } finally {
      setBusy(false);
    }
  }

  const text = (k: TextKey, label: string, opts: { multiline?: boolean; rows?: number; hint?: string; type?: 'url' } = {}) => (
    <TextField id={`cf-${k}`} label={label} value={form[k]} onInput={set(k)} error={err(k)} required={REQUIRED.has(k)} {...opts} />
  );

  return (
    <>
      <PageTitle>{editing ? 'Edit character' : 'New character'}</PageTitle>
      <p>
        <a href="/console/characters">Back to characters</a>
      </p>
      {saved?.character.fromCard ? (
        <p class="hint">
          Imported from a character card. Only the fields you change are saved; the card's other parts (alternate greetings, lorebook,
          creator notes) stay and are in its export.
        </p>
      ) : null}
      <Alert error={formError} />
      {status ? <Status>{status}</Status> : null}
      {loaded ? (
        <form onSubmit={save} noValidate aria-label={editing ? 'Edit character' : 'New character'} class="character-form">
          <fieldset>
            <legend>Who they are</legend>
            {text('name', 'Name')}
            <div class="avatar-field">
              {text('avatar', 'Avatar URL', { type: 'url', hint: 'An https image URL' })}
              <Avatar name={form.name || '?'} url={form.avatar.trim() || (saved ? avatarUrl(saved.character) : null)} size={64} />
            </div>
            <SelectField id="cf-gender" label="Gender" value={form.gender} options={GENDERS} onChange={set('gender')} error={err('gender')} />
            <TextField id="cf-age" label="Age" type="number" inputMode="numeric" value={form.age} onInput={set('age')} error={err('age')} hint="18 or older" />
            {text('occupation', 'Occupation')}
            {text('description', 'Description', { multiline: true, hint: 'Up to 500 characters; shown in lists' })}
            {text('appearanceDescription', 'Appearance', { multiline: true })}
          </fieldset>
          <fieldset>
            <legend>How they talk</legend>
            {text('personality', 'Personality', { multiline: true, rows: 4, hint: '10–2000 characters' })}
            {text('speakingStyle', 'Speaking style', { multiline: true, rows: 3, hint: '10–1000 characters' })}
            {text('greeting', 'Greeting', { multiline: true })}
            {text('scenario', 'Scenario', { multiline: true })}
            {text('exampleDialogue', 'Example dialogue', { multiline: true, rows: 4 })}
            {text('systemPrompt', 'System prompt', { multiline: true, rows: 4, hint: 'Replaces the opening instructions ({{original}} keeps them); the character definition still follows' })}
            {text('memoryInstructions', 'What to remember', { multiline: true, rows: 3, hint: 'Up to 1000 characters: what long-term memory should keep about the people this character talks with' })}
            <TextField id="cf-tags" label="Tags" value={form.tags} onInput={set('tags')} error={err('tags')} hint="Comma-separated" />
          </fieldset>
          <fieldset>
            <legend>Sharing</legend>
            <CheckField id="cf-isPublic" label="Public: other keys can see and chat with it" checked={form.isPublic} onChange={set('isPublic')} error={err('isPublic')} />
            <CheckField
              id="cf-canInitiateConversation"
              label="May start conversations (proactive messages)"
              checked={form.canInitiateConversation}
              onChange={set('canInitiateConversation')}
              error={err('canInitiateConversation')}
            />
          </fieldset>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : editing ? 'Save changes' : 'Create character'}
          </button>
        </form>
      ) : null}
    </>
  );
}
