import { filetypemime } from 'magic-bytes.js';
import { ValidationError } from '../core/errors.js';
import { safeFetch, SafeFetchError, type SafeFetchPolicy } from './safe-fetch.js';

/** What vision models accept; SVG is refused (it is a document that can reference other URLs). */
const MODEL_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export interface ImageFetchOptions extends SafeFetchPolicy {
  /** MAX_IMAGE_BYTES. */
  maxBytes: number;
  /** IMAGE_FETCH_TIMEOUT_MS: one deadline for the whole fetch. */
  deadlineMs: number;
}

/**
 * Turns a client's `imageUrl` into a `data:` URL the model gets instead of the URL. We fetch the
 * image ourselves (through {@link safeFetch}: resolved once, every address judged, pinned, no
 * redirects, size-capped, one deadline) because a model server fetching it would do so from
 * inside the operator's network with none of those checks. The answer must say it is an image
 * and its bytes must look like one.
 */
export class ImageFetcher {
  constructor(private readonly opts: ImageFetchOptions) {}

  /** The image as a `data:` URL; any failure is a 400 naming `imageUrl` and why. */
  async dataUrl(raw: string): Promise<string> {
    let res;
    try {
      res = await safeFetch(
        raw.trim(),
        { method: 'GET', headers: { accept: [...MODEL_IMAGE_TYPES].join(', '), 'user-agent': 'charbridge-images/1' }, deadlineMs: this.opts.deadlineMs, maxBytes: this.opts.maxBytes },
        this.opts,
      );
    } catch (err) {
      if (err instanceof SafeFetchError) throw invalid(err.message);
      throw err;
    }
    if (res.status < 200 || res.status >= 300) throw invalid(`could not be fetched (the server answered HTTP ${res.status})`);
    const declared = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!declared.startsWith('image/')) throw invalid(`is not an image (Content-Type ${declared || 'missing'})`);
    const sniffed = filetypemime(res.body).find((t) => MODEL_IMAGE_TYPES.has(t));
    if (!sniffed) throw invalid('is not a PNG, JPEG, GIF or WebP image (its bytes are not one)');
    return `data:${sniffed};base64,${res.body.toString('base64')}`;
  }
}

function invalid(reason: string): ValidationError {
  return new ValidationError(`imageUrl ${reason}`, { field: 'imageUrl' });
}
