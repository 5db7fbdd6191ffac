import type { Log } from '../../src/core/adapter.js';
import type { InboundFile } from '../../src/core/types.js';

/** Largest file an adapter downloads for a command (a character card with its picture fits easily). */
export const MAX_INBOUND_FILE_BYTES = 10 * 1024 * 1024;

/** What a platform says about a file before it is downloaded. */
export interface FileMeta {
  name: string;
  mime: string;
  /** As the platform reports it; 0 when unknown (the download is capped anyway). */
  size: number;
}

/**
 * Only command messages bring their files along (`/character import` with a card): other
 * messages' files are never downloaded, so a chat full of uploads costs nothing.
 */
export function wantsFiles(text: string): boolean {
  return text.trimStart().startsWith('/');
}

/**
 * A file for the engine: downloaded when the platform's size is within the cap, else marked
 * `too-large`; a failed download is marked `failed` (and logged without the URL), so the command
 * can tell the user what happened instead of the message being lost.
 */
export async function fetchInboundFile(meta: FileMeta, download: (maxBytes: number) => Promise<Buffer>, log: Log, maxBytes = MAX_INBOUND_FILE_BYTES): Promise<InboundFile> {
  if (meta.size > maxBytes) return { ...meta, skipped: 'too-large' };
  try {
    const bytes = await download(maxBytes);
    if (bytes.length > maxBytes) return { ...meta, size: bytes.length, skipped: 'too-large' };
    return { ...meta, size: bytes.length, bytes };
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err), file: meta.name }, 'could not download a file sent with a command');
    return { ...meta, skipped: 'failed' };
  }
}
