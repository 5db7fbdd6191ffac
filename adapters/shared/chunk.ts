/**
 * Splitting a long reply into messages a platform accepts (Telegram 4096, Discord 2000, Slack
 * ~4000 characters). Cuts prefer the boundaries a reader expects — paragraph, line, sentence,
 * word — and never fall inside a code block when a boundary outside one will do. A code block
 * that is itself too long is closed at the end of one chunk and reopened (same fence, same
 * language) at the start of the next, so both halves still render as code.
 *
 * Only the first `limit` characters decide where the first cut goes. That makes the first chunk
 * stable once a streamed reply has grown past the limit: an adapter can finish message one and
 * move on to message two while text is still arriving.
 */

/** A fenced code block: [start, end) covers the opening line through the closing line. */
interface Fence {
  start: number;
  /** End of the closing fence line, or the text's length when the block is never closed. */
  end: number;
  /** The opening line, trimmed, e.g. "```ts" — reused to reopen the block in the next chunk. */
  opener: string;
  /** Index just past the opening line. */
  bodyStart: number;
}

const CLOSE = '\n```';
const FENCE_LINE = /^[ \t]{0,3}(`{3,}|~{3,})([^\n`]*)$/;

/**
 * Split `text` into pieces of at most `limit` characters (JavaScript string length, i.e. UTF-16
 * code units — how Telegram, Discord and Slack count). Pieces are trimmed; empty input gives [].
 *
 * @example chunkText(longReply, 4096).forEach(send)
 */
export function chunkText(text: string, limit: number): string[] {
  if (!Number.isInteger(limit) || limit < 16) throw new RangeError(`chunk limit must be an integer >= 16, got ${limit}`);
  const out: string[] = [];
  let rest = text.trim();
  while (rest.length > limit) {
    const { head, tail } = cutOnce(rest, limit);
    if (head) out.push(head);
    rest = tail;
  }
  if (rest) out.push(rest);
  return out;
}

function cutOnce(text: string, limit: number): { head: string; tail: string } {
  const fences = findFences(text.slice(0, limit + 1));
  const cut = bestCut(text, limit, fences);
  const inside = fences.find((f) => cut > f.start && cut < f.end);
  if (!inside) return { head: text.slice(0, cut).trimEnd(), tail: text.slice(cut).trimStart() };
  if (inside.start >= limit * 0.3) {
    // A boundary just before the block keeps it whole in the next message.
    return { head: text.slice(0, inside.start).trimEnd(), tail: text.slice(inside.start) };
  }
  // The block is too long to move: split it, closing and reopening the fence.
  const room = limit - CLOSE.length;
  if (inside.bodyStart >= room) return { head: text.slice(0, cut), tail: text.slice(cut) }; // absurd opener line
  let at = text.lastIndexOf('\n', room);
  if (at <= inside.bodyStart) at = Math.max(room, inside.bodyStart + 1);
  at = notInSurrogate(text, at);
  return {
    head: text.slice(0, at).trimEnd() + CLOSE,
    tail: `${inside.opener}\n${text.slice(at).replace(/^\n/, '')}`,
  };
}

/**
 * The last paragraph break, else line break, else sentence end, else space inside the first
 * `limit` characters and outside code — each only if it keeps at least 30% of the limit, so a
 * stray early newline does not produce a tiny message — else a hard cut.
 */
function bestCut(text: string, limit: number, fences: Fence[]): number {
  const head = text.slice(0, limit);
  const min = Math.floor(limit * 0.3);
  const outside = (i: number) => !fences.some((f) => i > f.start && i < f.end);
  const finders: RegExp[] = [/\n[ \t]*\n/g, /\n/g, /[.!?…。！？]["'”’)\]]*[ \t]+/g, /[ \t]+/g];
  for (const re of finders) {
    let best = -1;
    for (const m of head.matchAll(re)) {
      const at = re.source.startsWith('\\n') ? m.index : m.index + m[0].length;
      if (at >= min && outside(at)) best = at;
    }
    if (best >= 0) return best;
  }
  return notInSurrogate(text, limit);
}

/** Moves a hard cut back one unit when it would separate the halves of a surrogate pair (an emoji). */
function notInSurrogate(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}

/** Fenced code blocks (``` or ~~~, CommonMark-style) in `text`, in order. */
export function findFences(text: string): Fence[] {
  const fences: Fence[] = [];
  let open: { start: number; marker: string; opener: string; bodyStart: number } | undefined;
  let lineStart = 0;
  while (lineStart <= text.length) {
    const nl = text.indexOf('\n', lineStart);
    const lineEnd = nl < 0 ? text.length : nl;
    const m = FENCE_LINE.exec(text.slice(lineStart, lineEnd));
    if (m) {
      const marker = m[1]!;
      if (!open) open = { start: lineStart, marker, opener: text.slice(lineStart, lineEnd).trim(), bodyStart: Math.min(text.length, lineEnd + 1) };
      else if (marker[0] === open.marker[0] && marker.length >= open.marker.length && !m[2]!.trim()) {
        fences.push({ start: open.start, end: lineEnd, opener: open.opener, bodyStart: open.bodyStart });
        open = undefined;
      }
    }
    if (nl < 0) break;
    lineStart = nl + 1;
  }
  if (open) fences.push({ start: open.start, end: text.length, opener: open.opener, bodyStart: open.bodyStart });
  return fences;
}
