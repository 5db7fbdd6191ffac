/**
 * Counts byte-pair-encoding tokens (tiktoken's algorithm) from a rank table kept in four typed
 * arrays outside the JavaScript heap: every token's bytes in one buffer, each rank's offset and
 * length, and an open-addressing hash table from bytes to rank (~4.5 MB for o200k).
 *
 * Why not gpt-tokenizer's encoder, which computes the same counts: it keeps the 200,000 tokens as
 * heap strings in a Map (15 MB of live heap, 40 MB of resident memory after loading), and V8 sizes
 * its old generation in proportion to the live heap, so that table alone raised the process's
 * peak memory by ~40 MB under load, and every major GC marked it again. Counting is all we need.
 */

const EMPTY = 0;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const NO_RANK = 0x7fffffff;
/** Pieces that needed merging, remembered by text (short ones only), as tiktoken's users do. */
const MERGE_CACHE_ENTRIES = 10_000;
const MERGE_CACHE_MAX_LENGTH = 64;
/**
 * Pieces longer than this (a run of CJK text or of punctuation, a blob with no spaces: the split
 * pattern bounds no run of letters) are counted a slice at a time. tiktoken's merge rescans a
 * piece at every step, so it is quadratic in the piece's length: 20,000 CJK characters held the
 * process for 1.3 s, a message of them for seconds. A slice's edge can split a token in two, so
 * such a piece may count a token or so more per slice; an ordinary word never comes near it.
 */
const MAX_PIECE_LENGTH = 128;

/** Calls `line(start, space, rank)` for every `base64 rank` line of a `.tiktoken` file. */
function eachLine(file: Buffer, line: (start: number, space: number, rank: number) => void): void {
  for (let start = 0; start < file.length; ) {
    let end = file.indexOf(10, start);
    if (end < 0) end = file.length;
    const space = file.indexOf(32, start);
    if (space > start && space < end) {
      let rank = 0;
      for (let i = space + 1; i < end; i++) if (file[i]! >= 48 && file[i]! <= 57) rank = rank * 10 + file[i]! - 48;
      line(start, space, rank);
    }
    start = end + 1;
  }
}

export class BpeCounter {
  private scratch = new Uint8Array(1024);
  private starts = new Int32Array(1025);
  private pairRanks = new Int32Array(1025);
  private readonly mergeCache = new Map<string, number>();
  private readonly encoder = new TextEncoder();

  private constructor(
    private readonly bytes: Uint8Array,
    private readonly offsets: Uint32Array,
    private readonly lengths: Uint8Array,
    private readonly table: Int32Array,
    private readonly split: RegExp,
  ) {}

  /**
   * From a `.tiktoken` file (`base64-bytes rank` per line) and the encoding's pre-tokenizing
   * pattern (its split regex; a copy is kept, as exec moves a regex's lastIndex).
   */
  static fromTiktoken(file: Buffer, split: RegExp): BpeCounter {
    // Two passes over the file's lines: sizes first, then each token's bytes decoded straight
    // into the one buffer, so nothing outlives loading but the four arrays.
    let tokens = 0;
    let byteCount = 0;
    let maxRank = -1;
    eachLine(file, (start, space, rank) => {
      byteCount += Buffer.byteLength(file.toString('latin1', start, space), 'base64');
      maxRank = Math.max(maxRank, rank);
      tokens++;
    });
    const bytes = Buffer.alloc(byteCount);
    const offsets = new Uint32Array(maxRank + 1);
    const lengths = new Uint8Array(maxRank + 1);
    let capacity = 1;
    while (capacity < tokens * 2.5) capacity <<= 1;
    const counter = new BpeCounter(bytes, offsets, lengths, new Int32Array(capacity), new RegExp(split.source, 'gu'));
    let at = 0;
    eachLine(file, (start, space, rank) => {
      const length = bytes.write(file.toString('latin1', start, space), at, 'base64');
      if (length > 255) throw new Error(`token ${rank} is longer than 255 bytes`);
      offsets[rank] = at;
      lengths[rank] = length;
      at += length;
      counter.insert(rank);
    });
    return counter;
  }

  /** How many tokens `text` encodes to, special-token text counted as the plain text it is. */
  count(text: string): number {
    const split = this.split;
    split.lastIndex = 0;
    let n = 0;
    for (let m = split.exec(text); m !== null; m = split.exec(text)) {
      const piece = m[0];
      if (piece.length === 0) split.lastIndex++;
      else if (piece.length <= MAX_PIECE_LENGTH) n += this.countPiece(piece);
      else n += this.countLongPiece(piece);
    }
    return n;
  }

  private countLongPiece(piece: string): number {
    let n = 0;
    for (let from = 0; from < piece.length; ) {
      let to = Math.min(piece.length, from + MAX_PIECE_LENGTH);
      const last = piece.charCodeAt(to - 1);
      if (to < piece.length && last >= 0xd800 && last <= 0xdbff) to++; // never split a surrogate pair
      n += this.countPiece(piece.slice(from, to));
      from = to;
    }
    return n;
  }

  private countPiece(piece: string): number {
    const len = piece.length;
    if (len * 3 > this.scratch.length) this.grow(len * 3);
    const buf = this.scratch;
    // ASCII, by far the commonest piece: bytes and hash in one pass over the characters.
    let hash = FNV_OFFSET;
    let size = 0;
    for (; size < len; size++) {
      const c = piece.charCodeAt(size);
      if (c > 127) break;
      buf[size] = c;
      hash = Math.imul(hash ^ c, FNV_PRIME);
    }
    if (size < len) {
      size = this.encoder.encodeInto(piece, buf).written; // a lone surrogate becomes U+FFFD, as in gpt-tokenizer
      hash = this.hash(buf, 0, size);
    }
    if (this.find(buf, 0, size, hash) !== NO_RANK) return 1;
    const cacheable = len <= MERGE_CACHE_MAX_LENGTH;
    if (cacheable) {
      const hit = this.mergeCache.get(piece);
      if (hit !== undefined) return hit;
    }
    const n = this.mergeCount(size);
    if (cacheable) {
      if (this.mergeCache.size >= MERGE_CACHE_ENTRIES) this.mergeCache.delete(this.mergeCache.keys().next().value!);
      this.mergeCache.set(piece, n);
    }
    return n;
  }

  /** tiktoken's byte_pair_merge over `scratch[0, size)`: merge the lowest-ranked adjacent pair until none is a token. */
  private mergeCount(size: number): number {
    const starts = this.starts;
    const ranks = this.pairRanks;
    let parts = size + 1;
    for (let i = 0; i < parts; i++) starts[i] = i;
    for (let i = 0; i < parts; i++) ranks[i] = this.rankOf(i, starts, parts);
    while (parts > 1) {
      let lowest = NO_RANK;
      let at = -1;
      for (let i = 0; i < parts - 1; i++) {
        if (ranks[i]! < lowest) {
          lowest = ranks[i]!;
          at = i;
        }
      }
      if (at < 0) break;
      starts.copyWithin(at + 1, at + 2, parts);
      ranks.copyWithin(at, at + 1, parts);
      parts--;
      ranks[at] = this.rankOf(at, starts, parts);
      if (at > 0) ranks[at - 1] = this.rankOf(at - 1, starts, parts);
    }
    return parts - 1;
  }

  /** The rank of the bytes from part `i` to the end of part `i + 1`, or NO_RANK. */
  private rankOf(i: number, starts: Int32Array, parts: number): number {
    if (i + 2 >= parts) return NO_RANK;
    const from = starts[i]!;
    const to = starts[i + 2]!;
    return this.find(this.scratch, from, to, this.hash(this.scratch, from, to));
  }

  private hash(buf: Uint8Array, from: number, to: number): number {
    let h = FNV_OFFSET;
    for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME);
    return h;
  }

  private find(buf: Uint8Array, from: number, to: number, hash: number): number {
    const mask = this.table.length - 1;
    const len = to - from;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.table[slot]!;
      if (entry === EMPTY) return NO_RANK;
      const rank = entry - 1;
      if (this.lengths[rank] !== len) continue;
      const at = this.offsets[rank]!;
      let i = 0;
      while (i < len && this.bytes[at + i] === buf[from + i]) i++;
      if (i === len) return rank;
    }
  }

  private insert(rank: number): void {
    const at = this.offsets[rank]!;
    const len = this.lengths[rank]!;
    const mask = this.table.length - 1;
    let slot = this.hash(this.bytes, at, at + len) & mask;
    while (this.table[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.table[slot] = rank + 1;
  }

  private grow(bytes: number): void {
    // `scratch` last: its length is what says the arrays are big enough, so a count stopped in
    // here (a lorebook scan under its watchdog) leaves them grown, or grows them again next time.
    this.starts = new Int32Array(bytes + 1);
    this.pairRanks = new Int32Array(bytes + 1);
    this.scratch = new Uint8Array(bytes);
  }
}
