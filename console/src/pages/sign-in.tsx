import { useEffect, useRef, useState } from 'preact/hooks';
import { signIn } from '../api';
import { TextField } from '../components/fields';
import type { SessionInfo } from '../types';

/** Sign in with the admin key or a tenant key; the key is exchanged for an HttpOnly session cookie and not kept. */
export function SignIn({ notice, onSignedIn }: { notice?: string | undefined; onSignedIn: (s: SessionInfo) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    document.title = 'Sign in · charbridge console';
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(key.trim()));
    } catch (err) {
      setError((err as Error).message);
      form.current?.querySelector<HTMLInputElement>('#key')?.focus();
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="sign-in">
      <h1>charbridge console</h1>
      {notice ? (
        <p class="status" role="status">
          {notice}
        </p>
      ) : null}
      <form ref={form} onSubmit={submit} noValidate aria-label="Sign in">
        <TextField
          id="key"
          label="API key"
          type="password"
          autoComplete="current-password"
          value={key}
          onInput={setKey}
          required
          error={error}
          hint="The admin key (ADMIN_API_KEY) or a tenant's key. A tenant sees only its own characters and conversations."
        />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
