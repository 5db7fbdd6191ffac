import type { ComponentChildren } from 'preact';

/** The ids a control points at with aria-describedby: its hint and its error, when present. */
function describedBy(id: string, hint: unknown, error: unknown): string | undefined {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

function Help({ id, hint, error }: { id: string; hint?: ComponentChildren; error?: string | undefined }) {
  return (
    <>
      {hint ? (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} class="field-error">
          {error}
        </p>
      ) : null}
    </>
  );
}

interface TextFieldProps {
  id: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  hint?: ComponentChildren;
  /** The API's message about this field, shown under it and announced with it. */
  error?: string | undefined;
  multiline?: boolean;
  rows?: number;
  type?: 'text' | 'password' | 'number' | 'url' | 'search' | 'date' | 'datetime-local';
  autoComplete?: string;
  required?: boolean;
  inputMode?: 'numeric' | 'decimal' | 'text' | 'url';
}

/** A labelled text input or textarea with its hint and error tied to it for screen readers. */
export function TextField(p: TextFieldProps) {
  const common = {
    id: p.id,
    name: p.id,
    value: p.value,
    'aria-invalid': p.error ? ('true' as const) : undefined,
    'aria-describedby': describedBy(p.id, p.hint, p.error),
    'aria-required': p.required ? ('true' as const) : undefined,
  };
  return (
    <div class={`field${p.multiline ? ' wide' : ''}${p.error ? ' invalid' : ''}`}>
      <label for={p.id}>
        {p.label}
        {p.required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {p.multiline ? (
        <textarea {...common} rows={p.rows ?? 3} onInput={(e) => p.onInput(e.currentTarget.value)} />
      ) : (
        <input {...common} type={(p.type ?? 'text') as 'text'} autoComplete={p.autoComplete} inputMode={p.inputMode} onInput={(e) => p.onInput(e.currentTarget.value)} />
      )}
      <Help id={p.id} hint={p.hint} error={p.error} />
    </div>
  );
}

/** A labelled select. */
export function SelectField(p: {
  id: string;
  label: string;
  value: string;
  options: Array<{ value: string; label: string }>;
  onChange: (value: string) => void;
  hint?: ComponentChildren;
  error?: string | undefined;
}) {
  return (
    <div class={`field${p.error ? ' invalid' : ''}`}>
      <label for={p.id}>{p.label}</label>
      <select
        id={p.id}
        name={p.id}
        value={p.value}
        aria-invalid={p.error ? 'true' : undefined}
        aria-describedby={describedBy(p.id, p.hint, p.error)}
        onChange={(e) => p.onChange(e.currentTarget.value)}
      >
        {p.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <Help id={p.id} hint={p.hint} error={p.error} />
    </div>
  );
}

/** A checkbox with its label after it. */
export function CheckField(p: { id: string; label: string; checked: boolean; onChange: (checked: boolean) => void; hint?: ComponentChildren; error?: string | undefined }) {
  return (
    <div class={`field check${p.error ? ' invalid' : ''}`}>
      <input
        id={p.id}
        name={p.id}
        type="checkbox"
        checked={p.checked}
        aria-invalid={p.error ? 'true' : undefined}
        aria-describedby={describedBy(p.id, p.hint, p.error)}
        onChange={(e) => p.onChange(e.currentTarget.checked)}
      />
      <label for={p.id}>{p.label}</label>
      <Help id={p.id} hint={p.hint} error={p.error} />
    </div>
  );
}

/** An error for the whole page or form, announced when it appears. */
export function Alert({ error }: { error: Error | string | undefined | null }) {
  if (!error) return null;
  return (
    <p class="alert" role="alert">
      {typeof error === 'string' ? error : error.message}
    </p>
  );
}

/** A short status line (saved, copied, cleared), announced politely. */
export function Status({ children }: { children: ComponentChildren }) {
  return (
    <p class="status" role="status">
      {children}
    </p>
  );
}
