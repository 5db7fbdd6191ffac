import type { ComponentChildren } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { upload } from '../api';
import type { Character } from '../types';

/** What the API reads as a card: SillyTavern PNG, JSON (V1/V2/V3) or CHARX. */
const CARD_TYPES = '.png,.json,.charx,image/png,application/json,application/zip';

interface Props {
  /** A character was created from the file. */
  onImported: (c: Character) => void;
  /** The API refused the file (400, 413, a quota): its message, shown as the page's alert. */
  onError: (error: Error) => void;
  onBusy: (fileName: string) => void;
  /** The list the file may be dropped onto. */
  children: ComponentChildren;
}

/**
 * Import a card file through POST /characters/import: with a labelled file picker (the way for
 * keyboards and screen readers), or by dropping the file onto the list it wraps. The API reads
 * the file; nothing is parsed here, so every format it takes works and its message is shown.
 */
export function CardImport({ onImported, onError, onBusy, children }: Props) {
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);
  const picker = useRef<HTMLInputElement>(null);

  async function send(file: File | undefined) {
    if (!file || busy) return;
    setBusy(true);
    onBusy(file.name);
    try {
      onImported(await upload<Character>('/characters/import', file));
    } catch (err) {
      onError(err as Error);
    } finally {
      setBusy(false);
      if (picker.current) picker.current.value = '';
    }
  }

  const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');

  return (
    <>
      <div class="import-card">
        <label for="card-import">Import a card file</label>
        <input
          ref={picker}
          id="card-import"
          type="file"
          accept={CARD_TYPES}
          aria-describedby="card-import-hint"
          disabled={busy}
          onChange={(e) => void send(e.currentTarget.files?.[0])}
        />
        <p id="card-import-hint" class="hint">
          A SillyTavern card (PNG, JSON or CHARX). Or drop the file onto the list below. The new character is private to this key.
        </p>
      </div>
      <div
        class={`dropzone${dragging ? ' dragging' : ''}`}
        data-testid="character-dropzone"
        onDragOver={(e) => {
          if (!hasFiles(e)) return;
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={(e) => {
          if (!(e.currentTarget as HTMLElement).contains(e.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={(e) => {
          if (!hasFiles(e)) return;
          e.preventDefault();
          setDragging(false);
          void send(e.dataTransfer?.files[0]);
        }}
      >
        {dragging ? (
          <p class="drop-hint" aria-hidden="true">
            Drop the card file to import it
          </p>
        ) : null}
        {children}
      </div>
    </>
  );
}
