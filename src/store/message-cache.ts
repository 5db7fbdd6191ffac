import { LRUCache } from 'lru-cache';
import type { StoredMessage } from '../core/types.js';

/** Room for the rows of a few thousand busy conversations' windows. */
const DEFAULT_MAX_BYTES = 16 * 2 ** 20;

/**
 * Stored messages by `seq`, so building a context re-reads from the database only the rows it
 * has not seen: materializing a 300-message window cost ~1.5 ms of CPU a turn in SQLite (a
 * round trip of rows in PostgreSQL), listing its seqs from the index ~0.07 ms.
 *
 * Safe across instances because a message row never changes after it is written (it is only
 * deleted with its conversation), a seq is never reused (SQLite AUTOINCREMENT, a PostgreSQL
 * identity), and a read always lists the seqs in range from the database first: the cache is
 * consulted only for rows the database still has, so what it answers is never stale. If
 * messages ever become editable, this cache has to learn about edits.
 *
 * Rows handed out are shared between readers and frozen so no reader can change another's.
 */
export class MessageCache {
  private readonly rows: LRUCache<number, StoredMessage>;

  constructor(maxBytes = DEFAULT_MAX_BYTES) {
    this.rows = new LRUCache<number, StoredMessage>({ maxSize: maxBytes, sizeCalculation: sizeOf });
  }

  get(seq: number): StoredMessage | undefined {
    return this.rows.get(seq);
  }

  /** Keep a committed message; returns the frozen copy that is kept. */
  keep(m: StoredMessage): StoredMessage {
    const frozen = Object.isFrozen(m) ? m : Object.freeze({ ...m, imageUrls: Object.freeze([...m.imageUrls]) as string[] });
    this.rows.set(m.seq, frozen);
    return frozen;
  }
}

/** UTF-16 strings take two bytes a character; ~200 bytes of object and fixed fields around them. */
function sizeOf(m: StoredMessage): number {
  let chars = m.content.length + m.id.length + m.conversationId.length + (m.authorId?.length ?? 0) + (m.authorName?.length ?? 0);
  for (const u of m.imageUrls) chars += u.length;
  return 200 + 2 * chars;
}
